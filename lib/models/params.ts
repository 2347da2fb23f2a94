// Parameters as the module tree declares them: timm state_dict key, shape, and how a model built without a
// checkpoint initialises it (timm's scheme in spirit; lib/weights/init.ts draws the numbers).
export type Init =
  | 'zeros'
  | 'ones'
  /** trunc_normal_(std=0.02), clipped at 2 sigma */
  | 'trunc_normal'
  /** kaiming_normal_(mode='fan_out', nonlinearity='relu'): convs of hybrid backbones */
  | 'kaiming_fan_out'
  | { value: number };

export interface ParamSpec {
  key: string;
  shape: number[];
  init: Init;
}

/** A state_dict entry: [timm key, shape]. */
export type Param = [key: string, shape: number[]];

export const param = (key: string, shape: number[], init: Init): ParamSpec => ({ key, shape, init });

/** Anything with parameters: every module of the tree. */
export interface HasParams {
  parameters(): ParamSpec[];
}

/** Parameters of several modules (null = absent submodule), in order. */
export function paramsOf(...modules: (HasParams | null | undefined)[]): ParamSpec[] {
  return modules.flatMap((m) => (m ? m.parameters() : []));
}

export const stateDictOf = (specs: ParamSpec[]): Param[] => specs.map((p) => [p.key, p.shape]);
