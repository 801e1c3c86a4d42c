package io.legate.xds;

import io.legate.stats.Counter;
import io.legate.stats.StatsStore;

/**
 * A subscription's stats under Envoy's names: {@code <prefix>update_attempt}, {@code update_success},
 * {@code update_rejected} (the config was NACKed), {@code update_failure} (it could not be fetched or
 * parsed), {@code init_fetch_timeout}.
 */
public final class UpdateStats {
  public final Counter updateAttempt;
  public final Counter updateSuccess;
  public final Counter updateRejected;
  public final Counter updateFailure;
  public final Counter initFetchTimeout;

  /** Creates the stats under {@code prefix}, e.g. {@code cluster_manager.cds.}. */
  public UpdateStats(StatsStore stats, String prefix) {
    updateAttempt = stats.counter(prefix + "update_attempt");
    updateSuccess = stats.counter(prefix + "update_success");
    updateRejected = stats.counter(prefix + "update_rejected");
    updateFailure = stats.counter(prefix + "update_failure");
    initFetchTimeout = stats.counter(prefix + "init_fetch_timeout");
  }
}
