package io.legate.xds;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.legate.config.ConfigException;
import io.legate.server.Log;
import io.legate.stats.Gauge;
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
 * An xDS stream (ADS, or one per-type service such as CDS) and the subscriptions multiplexed on it:
 * what the state-of-the-world ({@link GrpcMux}) and incremental ({@link DeltaGrpcMux}) protocols
 * share. The node goes on the first request (or every request); a broken stream reconnects with
 * jittered exponential backoff (500 ms doubling to 30 s). Both protocols hand the watcher the same
 * state-of-the-world view of a type, so an update is applied by the same code whatever the wire.
 *
 * <p>Every method and the watchers run on the config thread ({@code configExecutor}, serial); gRPC
 * callbacks hop onto it.
 *
 * @param <Q> the request message
 * @param <R> the response message
 */
public abstract class XdsMux<Q, R> {
  static final long BASE_BACKOFF_MS = 500;
  static final long MAX_BACKOFF_MS = 30_000;

  /** A watched type's state on the current stream. */
  static final class TypeState {
    final ResourceType type;
    final Watcher watcher;
    final UpdateStats stats;
    Set<String> names;
    String version = "";
    String nonce = "";
    boolean sent;
    /** Delta only: the accepted resources by name, and their versions. */
    Map<String, Any> resources = new java.util.TreeMap<>();
    Map<String, String> versions = new java.util.TreeMap<>();
    /** Delta only: the names the server was told about on this stream. */
    Set<String> subscribed = new TreeSet<>();

    TypeState(ResourceType type, Watcher watcher, UpdateStats stats, Set<String> names) {
      this.type = type;
      this.watcher = watcher;
      this.stats = stats;
      this.names = names;
    }
  }

  final String name;
  private final Function<StreamObserver<R>, StreamObserver<Q>> opener;
  final Node node;
  final boolean nodeOnFirstMessageOnly;
  private final Executor configExecutor;
  private final ScheduledExecutorService timer;
  private final Gauge connectedState;
  final Map<ResourceType, TypeState> types = new EnumMap<>(ResourceType.class);
  private StreamObserver<Q> requests;
  private int streamId;
  boolean sentNode;
  private int attempts;
  private boolean started;
  private boolean stopped;

  XdsMux(
      String name,
      Function<StreamObserver<R>, StreamObserver<Q>> opener,
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
   * watcher counts per resource (RDS, EDS, SDS). Config thread only.
   */
  public void watch(ResourceType type, Set<String> names, Watcher watcher, UpdateStats stats) {
    types.put(type, new TypeState(type, watcher, stats, new TreeSet<>(names)));
    if (requests != null) {
      sendSubscription(types.get(type));
    }
  }

  /** Changes the names of a named type and asks again. Config thread only. */
  public void updateNames(ResourceType type, Set<String> names) {
    TypeState s = types.get(type);
    if (s == null || s.names.equals(names)) {
      return;
    }
    s.names = new TreeSet<>(names);
    namesChanged(s);
    if (requests != null) {
      sendSubscription(s);
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

  /** Resets a type's per-stream state before the first request on a new stream. */
  abstract void resetForStream(TypeState s);

  /** Sends the request that tells the server what a type wants (a new stream, new names). */
  abstract void sendSubscription(TypeState s);

  /** Called when the names of a named type changed, before the request is sent. */
  void namesChanged(TypeState s) {}

  /** Handles a response on the current stream. */
  abstract void handle(R response);

  /** Returns the response's type URL. */
  abstract String typeUrl(R response);

  private void open() {
    if (stopped) {
      return;
    }
    int id = ++streamId;
    sentNode = false;
    for (TypeState s : types.values()) {
      s.nonce = "";
      s.sent = false;
      resetForStream(s);
    }
    StreamObserver<R> responses =
        new StreamObserver<>() {
          @Override
          public void onNext(R r) {
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
    for (TypeState s : types.values()) {
      sendSubscription(s);
    }
  }

  private void onResponse(int id, R r) {
    if (id != streamId || stopped) {
      return;
    }
    if (attempts > 0 || connectedState.value() == 0) {
      attempts = 0;
    }
    connectedState.set(1);
    ResourceType type = ResourceType.of(typeUrl(r));
    TypeState s = type == null ? null : types.get(type);
    if (s == null) {
      Log.warn("xds", name + ": ignoring unwatched type URL " + typeUrl(r));
      return;
    }
    handle(r);
  }

  /**
   * Hands {@code resources} (a state-of-the-world view of the type) to the watcher and counts the
   * outcome; returns null when it was applied, else the error that becomes the NACK's
   * {@code error_detail}.
   */
  final String apply(TypeState s, List<Any> resources, String versionInfo) {
    if (s.stats != null) {
      s.stats.updateAttempt.inc();
    }
    try {
      for (Any a : resources) {
        if (!a.getTypeUrl().equals(s.type.typeUrl())) {
          throw new ConfigException("resources", "expected type " + s.type.typeUrl() + ", found " + a.getTypeUrl());
        }
      }
      s.watcher.onConfigUpdate(resources, versionInfo);
      if (s.stats != null) {
        s.stats.updateSuccess.inc();
      }
      return null;
    } catch (RuntimeException e) {
      String error = e.getMessage() == null ? e.toString() : e.getMessage();
      if (s.stats != null) {
        s.stats.updateRejected.inc();
      }
      Log.warn("xds", name + ": " + s.type.typeUrl() + " update rejected (version " + versionInfo + "): " + error);
      return error;
    }
  }

  /** Returns whether the node goes on the next request, and notes that it went. */
  final boolean takeNode() {
    if (!nodeOnFirstMessageOnly || !sentNode) {
      sentNode = true;
      return true;
    }
    return false;
  }

  /** Returns the NACK's error_detail for {@code error}. */
  static com.google.rpc.Status errorDetail(String error) {
    return com.google.rpc.Status.newBuilder().setCode(Status.Code.INVALID_ARGUMENT.value()).setMessage(error).build();
  }

  /** Sends a request on the current stream, if any. */
  final void send(Q request) {
    if (requests == null) {
      return;
    }
    try {
      requests.onNext(request);
    } catch (RuntimeException e) {
      Log.warn("xds", name + ": cannot send request: " + e);
    }
  }

  /** Returns whether a stream is open. */
  final boolean connected() {
    return requests != null;
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
}
