#include "addr.h"

#include <arpa/inet.h>

namespace prtt {

std::string addr_to_string(const Addr& a) {
  char buf[INET6_ADDRSTRLEN];
  if (a.is_v4()) {
    inet_ntop(AF_INET, a.b + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.b, buf, sizeof buf);
  }
  return buf;
}

bool addr_parse(const std::string& text, Addr* out) {
  uint8_t raw[16];
  if (inet_pton(AF_INET, text.c_str(), raw) == 1) {
    *out = Addr::v4(raw);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), raw) == 1) {
    *out = Addr::v6(raw);
    return true;
  }
  return false;
}

}  // namespace prtt
