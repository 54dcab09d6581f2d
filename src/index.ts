export { RttMonitor, analyze, validateOptions } from './monitor';
export type { AnalyzeResult, RttMonitorEvents } from './monitor';
export { RttError, isRttError } from './errors';
export { libpcap } from './libpcap';
export type { HostPairReport, MonitorStats, RttErrorCode, RttMonitorOptions, RttSample, SampleKind } from './types';
