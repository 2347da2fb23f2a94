// vitnode public API.
export { createModel, resolveSource, type CreatedModel, type ModelSource, type ModelOrigin } from './create-model.ts';
export { VitModel, type OutputName, type RunRequest, type RunResult } from './model.ts';
export type { LoadReport } from './weights/load.ts';
export { Tensor } from './tensor.ts';
export { VitError, type VitErrorCode } from './errors.ts';
export type { CreateModelOptions, IntermediatesOptions } from './options.ts';
export type { VitConfig, PretrainedCfg } from './models/config.ts';
export { listModels, getPretrainedCfg, resolveModel, resolveConfig } from './registry/index.ts';
export { readSafetensors, writeSafetensors } from './weights/safetensors.ts';
export { backends, buildInfo, cudaStatus, type BuildInfo } from './backends.ts';
export { preprocess, preprocessSettled, resolveDataConfig, planTransform, decodeImage, transformImage, ImageError } from './preprocess/index.ts';
export type { DataConfig, ImageInput, RawPixels, ImageErrorReason, PreprocessOptions, Interpolation } from './preprocess/index.ts';
export type { Prediction, ClassifyOptions, FeaturesOptions, FeaturesResult, FeatureInfo, ImageTaskOptions } from './image-api.ts';
export { pcaRgb, writePcaImage, type PcaImage, type PcaOptions, type WritePcaImageOptions } from './pca.ts';
export { labelsFor, imagenet1kLabels, type ClassLabel } from './labels/index.ts';
export * from './serve/index.ts';
