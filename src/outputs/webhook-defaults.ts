/**
 * The webhook output's defaults, apart from the sink so that reading a config does not load
 * http, https and TLS into an agent that has no webhook.
 */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5_000;
export const DEFAULT_WEBHOOK_RETRIES = 5;
export const DEFAULT_WEBHOOK_CONCURRENCY = 4;
export const DEFAULT_WEBHOOK_MAX_AGE_MS = 60 * 60 * 1000;
