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
    std::memset(a.b, 0, 10);
    a.b[10] = 0xff;
    a.b[11] = 0xff;
    std::memcpy(a.b + 12, p, 4);
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
