package io.legate.stats;

/** A named stat. Names are Envoy's, dot separated ({@code cluster.backend.upstream_rq_2xx}). */
public interface Metric {
  /** Returns the full stat name. */
  String name();
}
