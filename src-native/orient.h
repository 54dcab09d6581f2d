// Orientation: which end of a decoded TCP packet is the monitored host, and
// the packet as the engine keeps it from then on, local -> remote with the
// local address named by its index in the LocalSet. 52 bytes, so that a
// packet crosses from the capture thread to the engine thread in one cache
// line (EngineThread). LocalSet is read-only once built: any thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "addr.h"
#include "decode.h"

namespace prtt {

struct Oriented {
  TcpFields tcp;
  Addr remote;
  uint16_t lport;
  uint16_t rport;
  uint16_t local;  // index into the LocalSet
  Decoded kind;
  uint8_t bits;  // kOurs, kFromLocal

  // kTcp with a local address at one end (else only counted).
  static constexpr uint8_t kOurs = 1;
  static constexpr uint8_t kFromLocal = 2;
  bool ours() const { return (bits & kOurs) != 0; }
  bool from_local() const { return (bits & kFromLocal) != 0; }
};
static_assert(sizeof(Oriented) == 52, "Oriented must leave room in a cache line");

class LocalSet {
 public:
  // At most kMax addresses are used (indexes are 16-bit); more than a
  // host's interfaces ever carry.
  static constexpr size_t kMax = 65535;
  explicit LocalSet(const std::vector<Addr>& local);

  const Addr& at(uint16_t i) const { return local_[i]; }

  // o->kind = kind; for a TCP packet with a local address at one end, the
  // rest of o but o->tcp, which the decoder wrote in place
  // (decode_packet(..., &o->tcp, &p)). Only ever stores to *o.
  void orient(Decoded kind, const Endpoints& p, Oriented* o) const {
    o->kind = kind;
    if (kind != Decoded::kTcp) {
      o->bits = 0;
      return;
    }
    uint32_t si = kNone, di = kNone;
    find(p, &si, &di);
    if (si == kNone && di == kNone) {  // neither end is local
      o->bits = 0;
      return;
    }
    bool from_local = si != kNone;
    if (__builtin_expect(si != kNone && di != kNone, 0)) {
      // Both ends ours: orient by the lower endpoint so that both
      // directions land on one flow.
      from_local = p.src < p.dst || (p.src == p.dst && p.sport < p.dport);
    }
    o->bits = static_cast<uint8_t>(Oriented::kOurs | (from_local ? Oriented::kFromLocal : 0));
    // Selects, not branches: the direction of consecutive packets is
    // anybody's guess. The address is read as the decoder wrote it, in two
    // halves (a wider load over narrower stores waits for them to drain).
    const Addr& remote = from_local ? p.dst : p.src;
    const uint64_t hi = remote.hi(), lo = remote.lo();
    std::memcpy(o->remote.b, &hi, 8);
    std::memcpy(o->remote.b + 8, &lo, 8);
    o->lport = from_local ? p.sport : p.dport;
    o->rport = from_local ? p.dport : p.sport;
    o->local = static_cast<uint16_t>(from_local ? si : di);
  }

 private:
  static constexpr uint32_t kNone = 0xffffffffu;

  // The indexes of the packet's source and destination among the local
  // addresses, kNone where not local.
  void find(const Endpoints& p, uint32_t* si, uint32_t* di) const {
    if (!p.v6) {
      uint32_t s, d;
      std::memcpy(&s, p.src.b + 12, 4);
      std::memcpy(&d, p.dst.b + 12, 4);
      // Most hosts have one IPv4 address: test it without a loop or a
      // data-dependent branch (which end is local changes from packet to
      // packet).
      if (!local4_.empty()) {
        *si = local4_first_ == s ? local4_index_[0] : kNone;
        *di = local4_first_ == d ? local4_index_[0] : kNone;
      }
      for (size_t i = 1; i < local4_.size(); ++i) {
        if (local4_[i] == s) *si = local4_index_[i];
        if (local4_[i] == d) *di = local4_index_[i];
      }
      return;
    }
    for (size_t i = 0; i < local_.size(); ++i) {
      if (local_[i] == p.src) *si = static_cast<uint32_t>(i);
      if (local_[i] == p.dst) *di = static_cast<uint32_t>(i);
    }
  }

  std::vector<Addr> local_;
  std::vector<uint32_t> local4_;        // the IPv4 ones, as stored in Addr bytes 12..15
  std::vector<uint32_t> local4_index_;  // their indexes in local_
  uint32_t local4_first_ = 0;           // local4_[0], or 0
};

}  // namespace prtt
