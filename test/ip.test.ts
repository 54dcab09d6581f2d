// ipVersion() against Node's own net.isIP, the behaviour it stands in for:
// a corpus of edge cases, then many random addresses, most of them damaged.
import assert from 'node:assert/strict';
import net from 'node:net';
import { ipVersion } from '../src/ip';
import { prng } from './helpers/prng';

const CASES = [
  '',
  '0.0.0.0',
  '255.255.255.255',
  '1.2.3.4',
  '256.1.1.1',
  '1.2.3.04',
  '01.2.3.4',
  '1.2.3',
  '1.2.3.4.5',
  '1.2.3.4 ',
  ' 1.2.3.4',
  '1..2.3',
  '1.2.3.',
  '.1.2.3',
  '1234.1.1.1',
  '1.2.3.4%eth0',
  '::',
  ':',
  ':::',
  '::1',
  '1::',
  '1:',
  ':1',
  '1::2::3',
  '::ffff:1.2.3.4',
  '::ffff:01.2.3.4',
  '::1.2.3.4',
  '1.2.3.4::',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:7::',
  '::1:2:3:4:5:6:7',
  '1:2:3:4:5:6:7:8::',
  '::1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:1.2.3.4',
  '1:2:3:4:5:6:7:1.2.3.4',
  '1:2:3:4:5::1.2.3.4',
  '1:2:3:4:5:6::1.2.3.4',
  'fe80::1%eth0',
  'fe80::1%',
  'fe80::1%a%b',
  'fe80::1%e:t.h-0',
  'fe80::1%eth_0',
  '12345::',
  'ABCD::ef',
  'abcd:EF01::',
  'g::1',
  '1:2:3:4:5:6:7:8%1',
  '::%1',
  '1::%x',
  '2001:db8::1.2.3',
  '::1.2.3.4.5',
  '::1.2.3.256',
  '1:2:3:4:5:6:7:1.2',
  '[::1]',
  '::1 ',
  '0:0:0:0:0:0:0:0',
  '00000::1',
  '0000::1',
  '1:2:3:4:5:6:7:8:',
  ':1:2:3:4:5:6:7:8',
  '1::2:',
  '::2:',
];

describe('ipVersion', () => {
  it('answers as net.isIP on edge cases', () => {
    for (const s of CASES) assert.equal(ipVersion(s), net.isIP(s), JSON.stringify(s));
  });

  it('answers as net.isIP on 200,000 random addresses, most of them damaged', () => {
    const rand = prng(7);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
    const octet = (): string => (rand() < 0.9 ? String(Math.floor(rand() * 256)) : pick(['00', '256', '01', '999']));
    const group = (): string =>
      Math.floor(rand() * 0x10000)
        .toString(16)
        .slice(0, 1 + Math.floor(rand() * 4));
    const v4 = (): string => [octet(), octet(), octet(), octet()].join('.');
    const v6 = (): string => {
      const g = Array.from({ length: 8 }, group);
      if (rand() < 0.3) g.splice(6, 2, v4());
      let s = g.join(':');
      if (rand() < 0.5) {
        // One run of groups elided.
        const parts = s.split(':');
        const at = Math.floor(rand() * parts.length);
        const n = Math.floor(rand() * (parts.length - at + 1));
        s = [...parts.slice(0, at), '', ...parts.slice(at + n)]
          .join(':')
          .replace(/^:(?!:)/, '::')
          .replace(/([^:]):$/, '$1::');
      }
      if (rand() < 0.1) s += '%' + pick(['eth0', '1', 'a.b', 'x-y:z', '_', '']);
      return s;
    };
    const noise = ['1', 'a', 'G', ':', '::', '.', '%', ' ', '0', 'f'];
    let valid4 = 0;
    let valid6 = 0;
    for (let n = 0; n < 200_000; n++) {
      let s = rand() < 0.4 ? v4() : v6();
      // Damage most of them: delete, insert or replace one piece.
      for (let k = Math.floor(rand() * 3); k > 0; k--) {
        const at = Math.floor(rand() * (s.length + 1));
        const op = rand();
        if (op < 0.33) s = s.slice(0, at) + s.slice(at + 1);
        else if (op < 0.66) s = s.slice(0, at) + pick(noise) + s.slice(at);
        else s = s.slice(0, at) + pick(noise) + s.slice(at + 1);
      }
      const want = net.isIP(s);
      assert.equal(ipVersion(s), want, JSON.stringify(s));
      if (want === 4) valid4++;
      if (want === 6) valid6++;
    }
    // Both kinds of valid address are reached, and many damaged ones.
    assert.ok(valid4 > 10_000 && valid6 > 10_000 && valid4 + valid6 < 180_000, `valid: ${valid4} IPv4, ${valid6} IPv6`);
  });
});
