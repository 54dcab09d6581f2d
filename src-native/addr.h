// Addresses as the engine stores them: 16 bytes, IPv4 as an IPv4-mapped IPv6
// address (RFC 4291 §2.5.5.2), so one fixed-size key serves both families.
// Plain value type; no thread affinity.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace prtt {

struct Addr {
  uint8_t b[16];

  static Addr v4(const uint8_t* p) {
    Addr a;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    // Two word stores: 0..0, then ff ff and the four address bytes.
    uint32_t raw;
    std::memcpy(&raw, p, 4);
    const uint64_t hi = 0;
    const uint64_t lo = 0xffff0000ull | (static_cast<uint64_t>(raw) << 32);
    std::memcpy(a.b, &hi, 8);
    std::memcpy(a.b + 8, &lo, 8);
#else
    std::memset(a.b, 0, 10);
    a.b[10] = 0xff;
    a.b[11] = 0xff;
    std::memcpy(a.b + 12, p, 4);
#endif
    return a;
  }
  static Addr v6(const uint8_t* p) {
    Addr a;
    std::memcpy(a.b, p, 16);
    return a;
  }
  bool is_v4() const {
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, prefix, 12) == 0;
  }
  uint64_t hi() const {
    uint64_t v;
    std::memcpy(&v, b, 8);
    return v;
  }
  uint64_t lo() const {
    uint64_t v;
    std::memcpy(&v, b + 8, 8);
    return v;
  }
  bool operator==(const Addr& o) const { return hi() == o.hi() && lo() == o.lo(); }
  bool operator!=(const Addr& o) const { return !(*this == o); }
  bool operator<(const Addr& o) const { return std::memcmp(b, o.b, 16) < 0; }
};

// Text form: dotted quad for IPv4-mapped addresses, RFC 5952 for IPv6.
std::string addr_to_string(const Addr& a);
// Parses an IPv4 or IPv6 literal; false when it is neither.
bool addr_parse(const std::string& text, Addr* out);

}  // namespace prtt
