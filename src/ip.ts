/**
 * Which IP version a string is written in: what `net.isIP` answers, for the
 * same inputs. Node's own check runs a large regular expression that costs
 * about 5 ms to compile on its first use, which every RttMonitor and every
 * command line paid at start-up; this one is a plain scan.
 *
 * IPv4: four decimal parts of 0 to 255, without leading zeros. IPv6: the
 * text forms of RFC 4291 §2.2 (eight groups of one to four hex digits, one
 * `::` for a run of zero groups, the last 32 bits in IPv4 form), and, as
 * Node accepts, a zone after `%` (RFC 4007 §11) of letters, digits and
 * `-` `.` `:`.
 */
export function ipVersion(s: string): 0 | 4 | 6 {
  if (isIPv4(s, 0, s.length)) return 4;
  return isIPv6(s) ? 6 : 0;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Whether s[from, to) is a dotted quad. */
function isIPv4(s: string, from: number, to: number): boolean {
  let parts = 0;
  let i = from;
  while (parts < 4) {
    const start = i;
    let v = 0;
    while (i < to && isDigit(s.charCodeAt(i)) && i - start < 3) v = v * 10 + s.charCodeAt(i++) - 0x30;
    const len = i - start;
    if (len === 0 || v > 255 || (len > 1 && s.charCodeAt(start) === 0x30)) return false;
    parts++;
    if (parts < 4) {
      if (i >= to || s.charCodeAt(i) !== 0x2e) return false;
      i++;
    }
  }
  return i === to;
}

function isZoneChar(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x3a;
}

function isIPv6(s: string): boolean {
  let end = s.indexOf('%');
  if (end === -1) {
    end = s.length;
  } else {
    if (end === s.length - 1) return false;
    for (let i = end + 1; i < s.length; i++) if (!isZoneChar(s.charCodeAt(i))) return false;
  }
  let groups = 0; // 16-bit groups written out (an IPv4 tail counts two)
  let elided = false;
  let i = 0;
  if (s.startsWith('::')) {
    elided = true;
    i = 2;
    if (i === end) return true;
  } else if (s.charCodeAt(0) === 0x3a) {
    return false;
  }
  for (;;) {
    const start = i;
    while (i < end && isHex(s.charCodeAt(i)) && i - start < 5) i++;
    const len = i - start;
    if (i < end && s.charCodeAt(i) === 0x2e) {
      // The last 32 bits as a dotted quad: the rest of the address.
      if (!isIPv4(s, start, end)) return false;
      groups += 2;
      break;
    }
    if (len === 0 || len > 4) return false;
    groups++;
    if (i === end) break;
    if (s.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (s.charCodeAt(i) === 0x3a) {
      if (elided) return false;
      elided = true;
      i++;
      if (i === end) break;
    }
    if (i === end) return false; // a single trailing ':'
  }
  return elided ? groups <= 7 : groups === 8;
}
