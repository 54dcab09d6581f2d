/**
 * The environment for the command-line processes the tests start: the
 * test runner's own, without what changes how passive-rtt behaves (the
 * Datadog client variables, the libpcap override, PREBUILDS_ONLY), plus
 * what a test sets.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('DD_') || k === 'PASSIVE_RTT_LIBPCAP' || k === 'PREBUILDS_ONLY') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}
