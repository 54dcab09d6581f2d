import { addon, toRttError } from './native';

/** Which libpcap the addon loaded and its version string; throws RttError PCAP_MISSING. */
export function libpcap(): { library: string; version: string } {
  try {
    return addon().libpcapInfo();
  } catch (err) {
    throw toRttError(err);
  }
}
