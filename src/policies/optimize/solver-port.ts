/**
 * The port through which the pure optimizer asks for a MILP to be solved (the HiGHS worker in
 * src/drivers/highs/ implements it; tests may pass a fake). Policies never import a solver.
 */
import type { MilpModel } from './milp-model.ts';

/** How one solve is run. */
export interface MilpSolveOptions {
  /** Wall-clock limit, seconds (HiGHS `time_limit`). */
  timeLimitS?: number;
  /** Deterministic limit: branch-and-bound nodes (HiGHS `mip_max_nodes`), for reproducible runs. */
  maxNodes?: number;
  /** Stop when (objective − bound) / objective falls below this (HiGHS `mip_rel_gap`; default 1e-6). */
  mipRelGap?: number;
  /** A feasible column vector to start from (HiGHS `setSolution`). */
  warmStart?: Float64Array;
  /** Solve the LP relaxation only (integrality dropped): its objective is the LP bound. */
  relaxation?: boolean;
  /** Cancels the solve: the best solution and bound known so far are returned. */
  signal?: AbortSignal;
}

/** How a solve ended. */
export type MilpSolveStatus = 'optimal' | 'time-limit' | 'infeasible' | 'interrupted' | 'error';

/** A solve's answer: the best columns found (if any), their objective, and the proven bound. */
export interface MilpSolveResult {
  status: MilpSolveStatus;
  colValue?: Float64Array;
  /** Objective of `colValue`, the model's offset included. */
  objective?: number;
  /** Proven lower bound on the objective (offset included; -Infinity when none is known). */
  bound: number;
  /** What went wrong, for `error` (and how `interrupted` happened). */
  message?: string;
}

/** Solves MILPs (a HiGHS worker per solve in production). */
export interface MilpSolver {
  solve(model: MilpModel, o: MilpSolveOptions): Promise<MilpSolveResult>;
}

/**
 * Solves MILPs synchronously, in the caller's thread (HiGHS loaded beforehand): what the simulator
 * uses, since its consolidation step runs inside a synchronous clock callback. Only deterministic
 * limits (`maxNodes`) keep a run reproducible; `timeLimitS` makes it depend on the machine.
 */
export interface MilpSolverSync {
  solve(model: MilpModel, o: Omit<MilpSolveOptions, 'signal'>): MilpSolveResult;
}
