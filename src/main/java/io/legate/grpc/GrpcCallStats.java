package io.legate.grpc;

import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Envoy's per-call gRPC counters in a cluster's scope ({@code Grpc::Context}):
 * {@code cluster.<cluster>.<protocol>.<service>.<method>.{<grpc-status>,success,failure,total}}
 * and {@code request_message_count}, {@code response_message_count}, where the protocol is {@code
 * grpc} or {@code grpc-web}; without a service and method, {@code cluster.<cluster>.<protocol>.*}.
 * Counters are made on first use and cached; safe from any thread.
 */
public final class GrpcCallStats {
  /** The counters of one method of one service on one cluster. */
  public static final class Counters {
    private final StatsStore.Scope scope;
    public final Counter success;
    public final Counter failure;
    public final Counter total;
    private final ConcurrentHashMap<String, Counter> byStatus = new ConcurrentHashMap<>();
    private volatile Counter requestMessages;
    private volatile Counter responseMessages;

    Counters(StatsStore.Scope scope) {
      this.scope = scope;
      this.success = scope.counter("success");
      this.failure = scope.counter("failure");
      this.total = scope.counter("total");
    }

    /** Counts one call that ended with {@code grpcStatus}: its status counter, success or failure, total. */
    public void charge(CharSequence grpcStatus) {
      String s = grpcStatus.toString();
      Counter c = byStatus.get(s);
      if (c == null) {
        c = byStatus.computeIfAbsent(s, scope::counter);
      }
      c.inc();
      charge(s.equals("0"));
    }

    /** Returns {@code request_message_count}, made on first use. */
    public Counter requestMessages() {
      Counter c = requestMessages;
      if (c == null) {
        requestMessages = c = scope.counter("request_message_count");
      }
      return c;
    }

    /** Returns {@code response_message_count}, made on first use. */
    public Counter responseMessages() {
      Counter c = responseMessages;
      if (c == null) {
        responseMessages = c = scope.counter("response_message_count");
      }
      return c;
    }

    /** Counts one call as a success or a failure, and in total. */
    public void charge(boolean ok) {
      (ok ? success : failure).inc();
      total.inc();
    }
  }

  private record Key(String cluster, String service, String method) {}

  private final StatsStore store;
  private final String protocol;
  private final ConcurrentHashMap<Key, Counters> counters = new ConcurrentHashMap<>();

  /**
   * @param protocol {@code grpc} or {@code grpc-web}
   */
  public GrpcCallStats(StatsStore store, String protocol) {
    this.store = store;
    this.protocol = protocol;
  }

  /**
   * Returns {service, method} from a gRPC path {@code /<service>/<method>} (query ignored), or null
   * when the path has not exactly two non-empty segments (no stats then, as Envoy).
   */
  public static String[] serviceAndMethod(CharSequence path) {
    if (path == null) {
      return null;
    }
    String p = path.toString();
    int q = p.indexOf('?');
    if (q >= 0) {
      p = p.substring(0, q);
    }
    String[] parts = java.util.Arrays.stream(p.split("/")).filter(s -> !s.isEmpty()).toArray(String[]::new);
    return parts.length == 2 ? parts : null;
  }

  /**
   * Returns the counters of a call, created on first use; a null service (and method) means the
   * cluster-wide {@code cluster.<cluster>.<protocol>.*} ones.
   */
  public Counters counters(String cluster, String service, String method) {
    Key k = new Key(cluster, service, method);
    Counters c = counters.get(k);
    if (c == null) {
      c = counters.computeIfAbsent(k, x -> new Counters(store.scope(
          "cluster." + cluster + "." + protocol + "." + (service == null ? "" : service + "." + method + "."))));
    }
    return c;
  }
}
