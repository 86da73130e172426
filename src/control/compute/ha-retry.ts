/** The back-off between HA restarts that failed on a host that came back. */

/** First wait after a failed HA restart on a returned host, and the longest. */
export const HA_RETRY_BASE_S = 10;
export const HA_RETRY_MAX_S = 300;

/**
 * Seconds to wait after failed attempt `attempt` (1, 2, ...): 10 s doubled each time, capped at 5 min.
 * Kubernetes' CrashLoopBackOff (kubelet restart back-off: 10 s, ×2, 300 s cap).
 */
export function haRetryDelayS(attempt: number): number {
  return Math.min(HA_RETRY_MAX_S, HA_RETRY_BASE_S * 2 ** Math.min(attempt - 1, 30));
}
