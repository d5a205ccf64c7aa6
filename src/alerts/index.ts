export { buildAlert, alertMessage, type AlertDocument, type ThreatFields } from './alert-document.js';
export { AlertThrottle, alertIdentity, type AlertThrottleOptions, type AlertThrottleStats, type ThrottleSummary } from './alert-throttle.js';
export { SEVERITY_SCORE } from './severity.js';
