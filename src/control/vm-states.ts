/** The VM lifecycle as one explicit state machine (actions → allowed source states → target state). */
export const VM_STATES = [
  'building',
  'running',
  'stopped',
  'suspended',
  'migrating',
  'resizing',
  'error',
  'deleted',
] as const;
export type VmState = (typeof VM_STATES)[number];

export const VM_ACTIONS = {
  // An error VM starts again (elsewhere when its host is out of service).
  start: { from: ['stopped', 'error'], to: 'running' },
  stop: { from: ['running', 'suspended', 'error'], to: 'stopped' },
  reboot: { from: ['running'], to: 'running' },
  suspend: { from: ['running'], to: 'suspended' },
  resume: { from: ['suspended'], to: 'running' },
  snapshot: { from: ['running', 'stopped', 'suspended'], to: null },
  restore: { from: ['running', 'stopped', 'suspended'], to: null },
  resize: { from: ['stopped', 'running'], to: 'stopped' },
  clone: { from: ['running', 'stopped', 'suspended'], to: null },
  delete: { from: ['building', 'running', 'stopped', 'suspended', 'error'], to: 'deleted' },
} as const satisfies Record<string, { from: readonly VmState[]; to: VmState | null }>;
export type VmAction = keyof typeof VM_ACTIONS;

/** Which actions the state allows right now (for clients and the dashboard). */
export function allowedActions(state: VmState): VmAction[] {
  return (Object.keys(VM_ACTIONS) as VmAction[]).filter((a) =>
    (VM_ACTIONS[a].from as readonly string[]).includes(state),
  );
}
