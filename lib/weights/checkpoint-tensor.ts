// One tensor of an opened checkpoint, read lazily: what every format reader produces and the loader consumes.
import type { StDtype } from './safetensors.ts';

export interface CheckpointTensor {
  shape: number[];
  dtype: StDtype;
  read(): Buffer;
}
