export { ProcessEventStream, ALL_PROCESS_ACTIONS, PROCESS_EVENT_SHAPES } from './process-event-stream.js';
export type { ProcessEventStreamOptions, ProcessEventStreamStats } from './process-event-stream.js';
export { buildProcessEvent, ttyDevice } from './process-event.js';
export type { EcsProcessEvent, EcsProcessFields, ProcessAction } from './process-event.js';
export { loadHostInfo, EtcAccounts } from './host.js';
export type { HostInfo, AccountResolver } from './host.js';
export { agentInfoFor, ECS_VERSION } from './agent.js';
export type { AgentInfo } from './agent.js';
