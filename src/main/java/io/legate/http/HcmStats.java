package io.legate.http;

import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.Histogram;
import io.legate.stats.StatsStore;

/** The HTTP connection manager's stats, under {@code http.<stat_prefix>.}, named as Envoy's. */
public final class HcmStats {
  public final Counter downstreamCxTotal;
  public final Counter downstreamCxHttp1Total;
  public final Counter downstreamCxHttp2Total;
  public final Gauge downstreamCxActive;
  public final Gauge downstreamCxHttp1Active;
  public final Gauge downstreamCxHttp2Active;
  public final Counter downstreamCxDestroy;
  public final Counter downstreamCxDestroyRemote;
  public final Counter downstreamCxDestroyLocal;
  public final Counter downstreamCxProtocolError;
  public final Counter downstreamCxIdleTimeout;
  public final Counter downstreamCxRxBytesTotal;
  public final Counter downstreamCxTxBytesTotal;
  public final Histogram downstreamCxLengthMs;
  public final Counter downstreamRqTotal;
  public final Counter downstreamRqHttp1Total;
  public final Counter downstreamRqHttp2Total;
  public final Gauge downstreamRqActive;
  public final Counter downstreamRqCompleted;
  public final Counter downstreamRqRxReset;
  public final Counter downstreamRqTxReset;
  public final Counter downstreamRqTimeout;
  public final Counter downstreamRqIdleTimeout;
  public final Counter downstreamRqHeaderTimeout;
  public final Counter downstreamRqMaxDurationReached;
  public final Counter downstreamRqTooLarge;
  public final Counter downstreamRqNonRelativePath;
  public final Counter downstreamRq1xx;
  public final Counter downstreamRq2xx;
  public final Counter downstreamRq3xx;
  public final Counter downstreamRq4xx;
  public final Counter downstreamRq5xx;
  public final Histogram downstreamRqTime;
  public final Counter rqRedirect;
  public final Counter rqDirectResponse;
  public final Counter noRoute;
  public final Counter noCluster;
  public final Counter rqTotal;
  public final Counter rqResetAfterDownstreamResponseStarted;
  /** {@code downstream_rq_too_many_premature_resets}: HTTP/2 connections closed for rapid reset. */
  public final Counter downstreamRqTooManyPrematureResets;
  /** {@code downstream_cx_max_requests_reached}: connections closed after max_requests_per_connection. */
  public final Counter downstreamCxMaxRequestsReached;
  /** {@code downstream_cx_max_duration_reached}: connections drained after max_connection_duration. */
  public final Counter downstreamCxMaxDurationReached;
  /** {@code downstream_cx_drain_close}: connections closed because the server drains. */
  public final Counter downstreamCxDrainClose;
  /** {@code downstream_rq_overload_close}: requests refused by stop_accepting_requests. */
  public final Counter downstreamRqOverloadClose;
  /** {@code downstream_cx_overload_disable_keepalive}: connections closed by disable_http_keepalive. */
  public final Counter downstreamCxOverloadDisableKeepalive;
  /** {@code downstream_cx_upgrades_total}: connections upgraded (101 or a CONNECT tunnel). */
  public final Counter downstreamCxUpgradesTotal;
  /** {@code downstream_cx_upgrades_active}: upgraded connections open now. */
  public final Gauge downstreamCxUpgradesActive;
  /** {@code downstream_rq_ws_on_non_ws_route}: upgrade requests refused (403) for their route. */
  public final Counter downstreamRqWsOnNonWsRoute;

  public HcmStats(StatsStore.Scope s) {
    downstreamCxTotal = s.counter("downstream_cx_total");
    downstreamCxHttp1Total = s.counter("downstream_cx_http1_total");
    downstreamCxUpgradesTotal = s.counter("downstream_cx_upgrades_total");
    downstreamCxUpgradesActive = s.gauge("downstream_cx_upgrades_active");
    downstreamRqWsOnNonWsRoute = s.counter("downstream_rq_ws_on_non_ws_route");
    downstreamRqTooManyPrematureResets = s.counter("downstream_rq_too_many_premature_resets");
    downstreamRqOverloadClose = s.counter("downstream_rq_overload_close");
    downstreamCxDrainClose = s.counter("downstream_cx_drain_close");
    downstreamCxMaxRequestsReached = s.counter("downstream_cx_max_requests_reached");
    downstreamCxMaxDurationReached = s.counter("downstream_cx_max_duration_reached");
    downstreamCxOverloadDisableKeepalive = s.counter("downstream_cx_overload_disable_keepalive");
    downstreamCxHttp2Total = s.counter("downstream_cx_http2_total");
    downstreamCxActive = s.gauge("downstream_cx_active");
    downstreamCxHttp1Active = s.gauge("downstream_cx_http1_active");
    downstreamCxHttp2Active = s.gauge("downstream_cx_http2_active");
    downstreamCxDestroy = s.counter("downstream_cx_destroy");
    downstreamCxDestroyRemote = s.counter("downstream_cx_destroy_remote");
    downstreamCxDestroyLocal = s.counter("downstream_cx_destroy_local");
    downstreamCxProtocolError = s.counter("downstream_cx_protocol_error");
    downstreamCxIdleTimeout = s.counter("downstream_cx_idle_timeout");
    downstreamCxRxBytesTotal = s.counter("downstream_cx_rx_bytes_total");
    downstreamCxTxBytesTotal = s.counter("downstream_cx_tx_bytes_total");
    downstreamCxLengthMs = s.histogram("downstream_cx_length_ms");
    downstreamRqTotal = s.counter("downstream_rq_total");
    downstreamRqHttp1Total = s.counter("downstream_rq_http1_total");
    downstreamRqHttp2Total = s.counter("downstream_rq_http2_total");
    downstreamRqActive = s.gauge("downstream_rq_active");
    downstreamRqCompleted = s.counter("downstream_rq_completed");
    downstreamRqRxReset = s.counter("downstream_rq_rx_reset");
    downstreamRqTxReset = s.counter("downstream_rq_tx_reset");
    downstreamRqTimeout = s.counter("downstream_rq_timeout");
    downstreamRqIdleTimeout = s.counter("downstream_rq_idle_timeout");
    downstreamRqHeaderTimeout = s.counter("downstream_rq_header_timeout");
    downstreamRqMaxDurationReached = s.counter("downstream_rq_max_duration_reached");
    downstreamRqTooLarge = s.counter("downstream_rq_too_large");
    downstreamRqNonRelativePath = s.counter("downstream_rq_non_relative_path");
    downstreamRq1xx = s.counter("downstream_rq_1xx");
    downstreamRq2xx = s.counter("downstream_rq_2xx");
    downstreamRq3xx = s.counter("downstream_rq_3xx");
    downstreamRq4xx = s.counter("downstream_rq_4xx");
    downstreamRq5xx = s.counter("downstream_rq_5xx");
    downstreamRqTime = s.histogram("downstream_rq_time");
    rqRedirect = s.counter("rq_redirect");
    rqDirectResponse = s.counter("rq_direct_response");
    noRoute = s.counter("no_route");
    noCluster = s.counter("no_cluster");
    rqTotal = s.counter("rq_total");
    rqResetAfterDownstreamResponseStarted = s.counter("rq_reset_after_downstream_response_started");
  }

  /** Counts a response code class. */
  public void recordResponseCode(int code) {
    switch (code / 100) {
      case 1 -> downstreamRq1xx.inc();
      case 2 -> downstreamRq2xx.inc();
      case 3 -> downstreamRq3xx.inc();
      case 4 -> downstreamRq4xx.inc();
      case 5 -> downstreamRq5xx.inc();
      default -> {}
    }
  }
}
