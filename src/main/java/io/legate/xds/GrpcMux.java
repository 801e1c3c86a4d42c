package io.legate.xds;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.legate.server.Log;
import io.legate.stats.Gauge;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A state-of-the-world xDS stream (ADS, or one per-type service such as CDS) and the subscriptions
 * multiplexed on it, with Envoy's protocol: the node on the first request (or every request), one
 * request per type with its resource names, ACK = the response's version and nonce, NACK = the last
 * accepted version, the nonce and {@code error_detail}; on a broken stream, reconnect with jittered
 * exponential backoff (500 ms doubling to 30 s) and ask again with the last accepted versions.
 *
 * <p>Every method and the watchers run on the config thread ({@code configExecutor}, serial); gRPC
 * callbacks hop onto it.
 */
public final class GrpcMux {
  static final long BASE_BACKOFF_MS = 500;
  static final long MAX_BACKOFF_MS = 30_000;

  private final String name;
  private final Function<StreamObserver<DiscoveryResponse>, StreamObserver<DiscoveryRequest>> opener;
  private final Node node;
  private final boolean nodeOnFirstMessageOnly;
  private final Executor configExecutor;
  private final ScheduledExecutorService timer;
  private final Gauge connectedState;
  private final Map<ResourceType, TypeState> types = new EnumMap<>(ResourceType.class);
  private StreamObserver<DiscoveryRequest> requests;
  private int streamId;
  private boolean sentNode;
  private int attempts;
  private boolean started;
  private boolean stopped;

  private static final class TypeState {
    final Watcher watcher;
    final UpdateStats stats;
    Set<String> names;
    String version = "";
    String nonce = "";
    boolean sent;

    TypeState(Watcher watcher, UpdateStats stats, Set<String> names) {
      this.watcher = watcher;
      this.stats = stats;
      this.names = names;
    }
  }

  /**
   * Creates the mux; nothing is sent before {@link #start()}.
   *
   * @param name for logs, e.g. {@code ads}
   * @param opener opens the bidirectional stream on the channel
   * @param connectedState {@code control_plane.connected_state}
   */
  public GrpcMux(
      String name,
      Function<StreamObserver<DiscoveryResponse>, StreamObserver<DiscoveryRequest>> opener,
      Node node,
      boolean nodeOnFirstMessageOnly,
      Executor configExecutor,
      ScheduledExecutorService timer,
      Gauge connectedState) {
    this.name = name;
    this.opener = opener;
    this.node = node;
    this.nodeOnFirstMessageOnly = nodeOnFirstMessageOnly;
    this.configExecutor = configExecutor;
    this.timer = timer;
    this.connectedState = connectedState;
  }

  /**
   * Adds a watcher for a type; named types ask for {@code names}. {@code stats} may be null when the
   * watcher counts per resource (RDS, EDS). Config thread only.
   */
  public void watch(ResourceType type, Set<String> names, Watcher watcher, UpdateStats stats) {
    types.put(type, new TypeState(watcher, stats, new TreeSet<>(names)));
    if (requests != null) {
      send(type, null);
    }
  }

  /** Changes the names of a named type and asks again. Config thread only. */
  public void updateNames(ResourceType type, Set<String> names) {
    TypeState s = types.get(type);
    if (s == null || s.names.equals(names)) {
      return;
    }
    s.names = new TreeSet<>(names);
    if (requests != null) {
      send(type, null);
    }
  }

  /** Returns whether a type is watched. */
  public boolean watches(ResourceType type) {
    return types.containsKey(type);
  }

  /** Opens the stream and sends a request per watched type. Config thread only. */
  public void start() {
    if (started) {
      return;
    }
    started = true;
    open();
  }

  private void open() {
    if (stopped) {
      return;
    }
    int id = ++streamId;
    sentNode = false;
    for (TypeState s : types.values()) {
      s.nonce = "";
      s.sent = false;
    }
    StreamObserver<DiscoveryResponse> responses =
        new StreamObserver<>() {
          @Override
          public void onNext(DiscoveryResponse r) {
            configExecutor.execute(() -> onResponse(id, r));
          }

          @Override
          public void onError(Throwable t) {
            configExecutor.execute(() -> onClose(id, Status.fromThrowable(t)));
          }

          @Override
          public void onCompleted() {
            configExecutor.execute(() -> onClose(id, Status.UNAVAILABLE.withDescription("stream closed by the server")));
          }
        };
    try {
      requests = opener.apply(responses);
    } catch (RuntimeException e) {
      onClose(id, Status.fromThrowable(e));
      return;
    }
    for (ResourceType t : types.keySet()) {
      send(t, null);
    }
  }

  private void onResponse(int id, DiscoveryResponse r) {
    if (id != streamId || stopped) {
      return;
    }
    if (attempts > 0 || connectedState.value() == 0) {
      attempts = 0;
    }
    connectedState.set(1);
    ResourceType type = ResourceType.of(r.getTypeUrl());
    TypeState s = type == null ? null : types.get(type);
    if (s == null) {
      Log.warn("xds", name + ": ignoring unwatched type URL " + r.getTypeUrl());
      return;
    }
    s.nonce = r.getNonce();
    if (s.stats != null) {
      s.stats.updateAttempt.inc();
    }
    String error = null;
    try {
      List<Any> resources = new ArrayList<>(r.getResourcesCount());
      for (Any a : r.getResourcesList()) {
        if (!a.getTypeUrl().equals(type.typeUrl())) {
          throw new io.legate.config.ConfigException(
              "resources", "expected type " + type.typeUrl() + ", found " + a.getTypeUrl());
        }
        resources.add(a);
      }
      s.watcher.onConfigUpdate(resources, r.getVersionInfo());
      s.version = r.getVersionInfo();
      if (s.stats != null) {
        s.stats.updateSuccess.inc();
      }
    } catch (RuntimeException e) {
      error = e.getMessage() == null ? e.toString() : e.getMessage();
      if (s.stats != null) {
        s.stats.updateRejected.inc();
      }
      Log.warn("xds", name + ": " + type.typeUrl() + " update rejected (version " + r.getVersionInfo() + "): " + error);
    }
    send(type, error);
  }

  private void send(ResourceType type, String error) {
    TypeState s = types.get(type);
    if (requests == null || s == null) {
      return;
    }
    if (!type.wildcard() && s.names.isEmpty() && !s.sent) {
      // an empty list would mean "everything" in SotW; ask once there is something to ask for
      return;
    }
    DiscoveryRequest.Builder b =
        DiscoveryRequest.newBuilder()
            .setTypeUrl(type.typeUrl())
            .setVersionInfo(s.version)
            .setResponseNonce(s.nonce);
    if (!type.wildcard()) {
      b.addAllResourceNames(s.names);
    }
    if (!nodeOnFirstMessageOnly || !sentNode) {
      b.setNode(node);
      sentNode = true;
    }
    if (error != null) {
      b.setErrorDetail(com.google.rpc.Status.newBuilder().setCode(Status.Code.INVALID_ARGUMENT.value()).setMessage(error));
    }
    s.sent = true;
    try {
      requests.onNext(b.build());
    } catch (RuntimeException e) {
      Log.warn("xds", name + ": cannot send request: " + e);
    }
  }

  private void onClose(int id, Status status) {
    if (id != streamId || stopped) {
      return;
    }
    requests = null;
    connectedState.set(0);
    long cap = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS << Math.min(attempts, 10));
    attempts++;
    long delay = ThreadLocalRandom.current().nextLong(cap / 2, cap + 1);
    Log.warn("xds", name + ": stream closed (" + status.getCode() + ": " + status.getDescription() + "); reconnecting in " + delay + " ms");
    timer.schedule(() -> configExecutor.execute(this::open), delay, TimeUnit.MILLISECONDS);
  }

  /** Closes the stream and stops reconnecting. Config thread only. */
  public void stop() {
    stopped = true;
    if (requests != null) {
      try {
        requests.onCompleted();
      } catch (RuntimeException ignored) {
        // the stream is already gone
      }
      requests = null;
    }
  }
}
