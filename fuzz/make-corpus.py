#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets (see fuzz/README.md).

fuzz_decode: every packet of the given captures (classic pcap, pcapng) as one
file, [link-type selector][wire-length mode] + packet bytes, plus the same IP
packet re-framed under every supported link type, plus hand-made IPv6
packets with extension headers.

fuzz_engine: the TCP conversations of the captures translated into the
target's record language (fuzz_engine.cc), plus hand-made scenarios
(handshake and data, retransmissions, timestamp echo, many flows).

usage: make-corpus.py OUT_DIR CAPTURE...   (captures that do not exist are skipped)
"""
import hashlib
import os
import struct
import sys

# Link types in the order of kLinkTypes in fuzz_decode.cc.
LINK_INDEX = {0: 0, 1: 1, 12: 2, 14: 3, 101: 4, 108: 5, 113: 6, 228: 7, 229: 8, 276: 9}


def read_capture(path):
    """Yields (linktype, ts_ns, caplen bytes, wirelen) of a pcap or pcapng file."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\xa1\xb2\xc3\xd4', b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d'):
        e = '<' if magic[0] in (0xd4, 0x4d) else '>'
        nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
        linktype = struct.unpack(e + 'I', data[20:24])[0] & 0xffff
        off = 24
        while off + 16 <= len(data):
            sec, frac, incl, orig = struct.unpack(e + 'IIII', data[off:off + 16])
            off += 16
            pkt = data[off:off + incl]
            off += incl
            yield linktype, sec * 10**9 + frac * (1 if nano else 1000), pkt, orig
    elif magic == b'\x0a\x0d\x0d\x0a':
        e = '<' if data[8:12] == b'\x4d\x3c\x2b\x1a' else '>'
        ifaces = []
        off = 0
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + 'II', data[off:off + 8])
            if blen < 12:
                return
            body = data[off + 8:off + blen - 4]
            if btype == 1:
                ifaces.append(struct.unpack(e + 'H', body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iface, hi, lo, incl, orig = struct.unpack(e + 'IIIII', body[:20])
                if iface < len(ifaces):
                    yield ifaces[iface], ((hi << 32) | lo) * 1000, body[20:20 + incl], orig
            off += blen


def ip_of(linktype, pkt):
    """The IP packet inside a frame, or None."""
    if linktype == 1 and len(pkt) >= 14:
        off, et = 12, pkt[12:14]
        while et in (b'\x81\x00', b'\x88\xa8') and len(pkt) >= off + 6:
            off += 4
            et = pkt[off:off + 2]
        return pkt[off + 2:] if et in (b'\x08\x00', b'\x86\xdd') else None
    if linktype in (12, 14, 101, 228, 229):
        return pkt
    if linktype == 113 and len(pkt) >= 16:
        return pkt[16:]
    if linktype == 276 and len(pkt) >= 20:
        return pkt[20:]
    if linktype in (0, 108) and len(pkt) >= 4:
        return pkt[4:]
    return None


def reframe(ip):
    """(selector, frame) for the IP packet under every supported link type."""
    v6 = len(ip) > 0 and ip[0] >> 4 == 6
    et = b'\x86\xdd' if v6 else b'\x08\x00'
    yield LINK_INDEX[1], b'\x02' * 12 + et + ip
    yield LINK_INDEX[1], b'\x02' * 12 + b'\x81\x00\x00\x07' + et + ip
    yield LINK_INDEX[12], ip
    yield LINK_INDEX[113], b'\x00\x00\x00\x01\x00\x06' + b'\x02' * 8 + et + ip
    yield LINK_INDEX[276], et + b'\x00\x00' + b'\x00\x00\x00\x01' + b'\x00\x01\x00\x06' + b'\x02' * 8 + ip
    yield LINK_INDEX[0], struct.pack('<I', 10 if v6 else 2) + ip
    yield LINK_INDEX[108], struct.pack('>I', 30 if v6 else 2) + ip
    yield LINK_INDEX[229 if v6 else 228], ip


def tcp_header(sport, dport, seq, ack, flags, opts=b''):
    opts += b'\x00' * (-len(opts) % 4)
    return struct.pack('>HHIIBBHHH', sport, dport, seq, ack, (20 + len(opts)) // 4 << 4, flags,
                       65535, 0, 0) + opts


def ipv6_packets():
    """IPv6 TCP packets with extension-header chains (RFC 8200 §4)."""
    src = bytes.fromhex('fd000000000000000000000000000001')
    dst = bytes.fromhex('fd000000000000000000000000000002')
    ts = b'\x01\x01\x08\x0a' + struct.pack('>II', 1000, 2000)
    tcp = tcp_header(40000, 443, 1, 1, 0x18, ts) + b'x' * 10
    chains = [
        (6, b''),
        (0, bytes([6, 0]) + b'\x01\x04\x00\x00\x00\x00'),               # hop-by-hop
        (60, bytes([43, 0]) + b'\x00' * 6 + bytes([6, 0]) + b'\x00' * 6),  # dst opts, routing
        (44, bytes([6, 0]) + b'\x00\x00\x00\x00\x00\x01'),              # fragment, offset 0
        (44, bytes([6, 0]) + b'\x00\x08\x00\x00\x00\x01'),              # later fragment
        (51, bytes([6, 1]) + b'\x00\x00' + b'\x00' * 8),                # AH
        (59, b''),                                                      # no next header
    ]
    for nxt, ext in chains:
        payload = ext + tcp
        yield b'\x60\x00\x00\x00' + struct.pack('>HBB', len(payload), nxt, 64) + src + dst + payload


# ---- fuzz_engine record language (see fuzz_engine.cc) ----
DELTA = [0, 1000, 10000, 100000, 500000, 1000000, 5000000, 20000000, 50000000, 100000000,
         300000000, 1000000000, 2000000000, 5000000000, 31000000000, 400000000000]
LENS = [0, 0, 0, 1, 10, 100, 536, 1000, 1448, 1448, 2896, 8688, 20000, 65000, 65495, 0]


def nearest(table, v):
    return min(range(len(table)), key=lambda i: (abs(table[i] - v), i))


def rec(delta_ns=0, op=0, flags=0x10, local=True, v6=False, port=0, remote=0, seq_mode=0,
        ack_mode=0, length=0, ts=False, tsecr_mode=0, sack=False, extra=0):
    r0 = (op << 6) | nearest(DELTA, delta_ns)
    f = {'F': 1, 'S': 2, 'R': 4, 'A': 0x10}
    fl = flags if isinstance(flags, int) else sum(f[c] for c in flags)
    r1 = fl | (0x20 if local else 0) | (0x80 if v6 else 0)
    r2 = (remote & 3) << 1 | (port & 7) << 3
    r6 = (1 if ts else 0) | (1 << 1) | (tsecr_mode & 3) << 4 | (0x40 if sack else 0)
    return bytes([r0, r1, r2, seq_mode, ack_mode, nearest(LENS, length), r6, extra])


def engine_header(max_flows=4, soften=True, samples=True, ether=False, seg_mem=3, idle=7, exp=7,
                  interval=1):
    return bytes([(max_flows - 1) | (16 if soften else 0) | (32 if samples else 0) |
                  (64 if ether else 0), seg_mem | idle << 2, exp | interval << 3, 0])


def conversation_records(packets):
    """The first TCP conversation of a capture as records, local = the SYN's sender."""
    out = []
    local = None
    last_t = None
    for linktype, t, pkt, _ in packets:
        ip = ip_of(linktype, pkt)
        if not ip or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        tcp = ip[ihl:]
        if len(tcp) < 20:
            continue
        flags = tcp[13] & 0x17
        src = ip[12:16]
        if local is None:
            if flags & 0x12 != 0x02:
                continue
            local = src
        total = struct.unpack('>H', ip[2:4])[0]
        length = total - ihl - (tcp[12] >> 4) * 4
        has_ts = b'\x08\x0a' in tcp[20:(tcp[12] >> 4) * 4]
        out.append(rec(delta_ns=0 if last_t is None else t - last_t, flags=flags,
                       local=src == local, length=length, ts=has_ts))
        last_t = t
    return out


def write(dirname, data):
    os.makedirs(dirname, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(dirname, name), 'wb') as f:
        f.write(data)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    dec = os.path.join(out, 'fuzz_decode')
    eng = os.path.join(out, 'fuzz_engine')
    seen_ip = set()
    for path in sys.argv[2:]:
        if not os.path.isfile(path):
            continue
        packets = list(read_capture(path))
        for linktype, _, pkt, wire in packets:
            if linktype in LINK_INDEX:
                write(dec, bytes([LINK_INDEX[linktype], 0 if wire == len(pkt) else 1]) + pkt)
            ip = ip_of(linktype, pkt)
            if ip is not None:
                # Re-framed variants of a few distinct packets (by header).
                key = ip[:60]
                if key not in seen_ip and len(seen_ip) < 64:
                    seen_ip.add(key)
                    for sel, frame in reframe(ip):
                        write(dec, bytes([sel, 0]) + frame)
        recs = conversation_records(packets)
        if recs:
            write(eng, engine_header() + b''.join(recs[:400]))
            write(eng, engine_header(max_flows=1, ether=True, seg_mem=0, interval=0) + b''.join(recs[:120]))
    for ip in ipv6_packets():
        for sel, frame in reframe(ip):
            write(dec, bytes([sel, 0]) + frame)

    ms = 1000000
    # Handshake, request, response, FIN both ways, with timestamps.
    basic = [rec(0, flags='S', ts=True), rec(20 * ms, flags='SA', local=False, ts=True),
             rec(ms // 2, flags='A', ts=True), rec(0, flags='A', length=100, ts=True),
             rec(20 * ms, flags='A', local=False, ts=True),
             rec(ms, flags='A', local=False, length=1448, ts=True),
             rec(100000, flags='A', ts=True), rec(ms, flags='A', local=False, length=1448, ts=True),
             rec(20 * ms, flags='FA', ts=True), rec(20 * ms, flags='FA', local=False, ts=True),
             rec(100000, flags='A', ts=True)]
    write(eng, engine_header() + b''.join(basic))
    # Retransmission and a timestamp-disambiguated ACK, then dup ACKs.
    retx = [rec(0, flags='S', ts=True), rec(20 * ms, flags='SA', local=False, ts=True),
            rec(ms, flags='A', ts=True, length=1448), rec(0, flags='A', ts=True, length=1448),
            rec(300 * ms, flags='A', ts=True, length=1448, seq_mode=1),
            rec(20 * ms, flags='A', local=False, ts=True, ack_mode=4),
            rec(ms, flags='A', local=False, ts=True, ack_mode=4),
            rec(ms, flags='A', local=False, ts=True, sack=True), rec(ms, flags='A', local=False, ts=True,
                                                                     ack_mode=3 | 5 << 3)]
    write(eng, engine_header() + b''.join(retx))
    # Remote bulk sender, local pure ACKs: timestamp-echo samples.
    echo = [rec(0, flags='S', local=False, ts=True), rec(ms, flags='SA', ts=True),
            rec(20 * ms, flags='A', local=False, ts=True)]
    for _ in range(10):
        echo += [rec(ms, flags='A', local=False, length=1448, ts=True),
                 rec(100000, flags='A', ts=True),
                 rec(20 * ms, flags='A', local=False, length=1448, ts=True, tsecr_mode=0)]
    write(eng, engine_header() + b''.join(echo))
    # Many flows over a tiny table: eviction, expiry, reports, IPv6.
    many = []
    for i in range(64):
        many += [rec(5 * ms, flags='S', port=i, remote=i >> 3, v6=i % 5 == 0),
                 rec(5 * ms, flags='SA', local=False, port=i, remote=i >> 3, v6=i % 5 == 0)]
    many.append(rec(31 * 10**9, flags='A'))
    write(eng, engine_header(max_flows=3, exp=0, idle=0, interval=0) + b''.join(many))
    # A busy host pair: 300 exchanges in one 30 s interval, more samples than
    # the largest raw block holds (256), so the interval's percentiles come
    # from the dense histogram. The mutator alone did not get there in 7
    # million runs.
    busy = [rec(0, flags='S'), rec(20 * ms, flags='SA', local=False), rec(ms // 2, flags='A')]
    for i in range(300):
        busy += [rec(ms, flags='A', length=100), rec([ms, 5 * ms, 20 * ms][i % 3], flags='A', local=False)]
    write(eng, engine_header(interval=3) + b''.join(busy))
    # Ticks and time stepping back.
    write(eng, engine_header() + b''.join(basic[:4]) + bytes([0xe0, 200, 0, 0, 0, 0, 0, 0]) +
          bytes([0xd0, 100, 0, 0, 0, 0, 0, 0]) + b''.join(basic[4:]))
    print(f'corpus: {len(os.listdir(dec))} decode seeds, {len(os.listdir(eng))} engine seeds in {out}')


if __name__ == '__main__':
    main()
