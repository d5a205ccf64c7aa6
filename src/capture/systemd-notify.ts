/**
 * systemd's notification protocol (sd_notify(3)), sent by the native addon: Node cannot send a
 * unix datagram itself. Outside a Type=notify service ($NOTIFY_SOCKET unset) it does nothing.
 */
import { loadNativeAddon } from './native.js';

/** Sends `state` ("READY=1", "WATCHDOG=1", …); false when there is no notify socket. Throws when sending fails. */
export function notifySystemd(state: string): boolean {
  return loadNativeAddon().notifySystemd(state) === 'sent';
}
