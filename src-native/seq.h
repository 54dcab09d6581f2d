// Serial-number arithmetic for 32-bit TCP sequence numbers and timestamps
// (RFC 1982 §3.2; RFC 9293 §3.4 compares sequence numbers modulo 2^32;
// RFC 7323 §5.2 does the same for TSval). Valid while the two values are
// less than 2^31 apart.
#pragma once

#include <cstdint>

namespace prtt {

inline bool seq_lt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
inline bool seq_le(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }
inline bool seq_gt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
inline bool seq_ge(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

}  // namespace prtt
