/** Inference: onnxruntime sessions in a worker thread, execution providers with CPU fallback, batching. */
export { BatchQueue, QueueClosedError, type BatchQueueOptions, type BatchQueueStats } from './BatchQueue.ts';
export { InferenceHost, type InferenceHostOptions, type ItemResult } from './InferenceHost.ts';
export type { FeedMsg, LoadedModelInfo, ModelStats, RunResult, StoredRef, TensorMsg } from './protocol.ts';
export {
  PROVIDERS,
  ProviderConfigError,
  createSession,
  listBackends,
  requestedProvider,
  shortReason,
  type CreatedSession,
  type ProviderName,
} from './providers.ts';
