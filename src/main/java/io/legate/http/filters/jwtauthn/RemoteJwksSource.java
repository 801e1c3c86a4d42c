package io.legate.http.filters.jwtauthn;

import io.legate.http.async.AsyncHttpClient;
import io.legate.stats.Counter;
import io.legate.upstream.ClusterManager;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.lang.ref.WeakReference;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A provider's {@code remote_jwks}: fetched with a GET through the named cluster and cached for
 * {@code cache_duration}, shared by all workers. Without {@code async_fetch} the first request that
 * needs the keys fetches them (requests arriving meanwhile wait for the same fetch) and the cache
 * expires; with it the keys are fetched at start and refreshed in the background (after {@code
 * cache_duration}, or {@code failed_refetch_duration} after a failure) and never expire.
 */
final class RemoteJwksSource implements JwksSource {
  static final int MAX_JWKS_BYTES = 1 << 20;
  private static final AsciiString GET = AsciiString.cached("GET");

  private record Snapshot(JwksKeys keys, long expiresAtNanos) {}

  private record Waiter(EventLoop loop, Runnable done) {}

  private final ClusterManager clusters;
  private final String cluster;
  private final String authority;
  private final String path;
  private final long timeoutMs;
  private final long cacheDurationNanos;
  private final boolean async;
  private final long failedRefetchMs;
  private final Counter fetchSuccess;
  private final Counter fetchFailed;
  private final LongSupplier nanoTime;
  private volatile Snapshot snapshot;
  private final List<Waiter> waiters = new ArrayList<>();
  private boolean fetching;

  RemoteJwksSource(
      ClusterManager clusters,
      String cluster,
      String authority,
      String path,
      long timeoutMs,
      long cacheDurationMs,
      boolean async,
      long failedRefetchMs,
      Counter fetchSuccess,
      Counter fetchFailed,
      LongSupplier nanoTime) {
    this.clusters = clusters;
    this.cluster = cluster;
    this.authority = authority;
    this.path = path;
    this.timeoutMs = timeoutMs;
    this.cacheDurationNanos = TimeUnit.MILLISECONDS.toNanos(cacheDurationMs);
    this.async = async;
    this.failedRefetchMs = failedRefetchMs;
    this.fetchSuccess = fetchSuccess;
    this.fetchFailed = fetchFailed;
    this.nanoTime = nanoTime;
  }

  @Override
  public JwksKeys current() {
    Snapshot s = snapshot;
    if (s == null) {
      return null;
    }
    if (!async && nanoTime.getAsLong() - s.expiresAtNanos >= 0) {
      return null;
    }
    return s.keys;
  }

  @Override
  public boolean needsFetch() {
    return !async && current() == null;
  }

  @Override
  public void fetch(EventLoop loop, Runnable done) {
    boolean start;
    synchronized (this) {
      waiters.add(new Waiter(loop, done));
      start = !fetching;
      fetching = true;
    }
    if (start) {
      send(loop, this::finishWaiters);
    }
  }

  /**
   * Starts the background fetch loop ({@code async_fetch}). The timers hold this source weakly:
   * once a replaced config drops it, its refreshes stop.
   */
  void startBackground() {
    EventLoop loop = AsyncHttpClient.backgroundLoop();
    WeakReference<RemoteJwksSource> self = new WeakReference<>(this);
    loop.execute(() -> backgroundFetch(self, loop));
  }

  private static void backgroundFetch(WeakReference<RemoteJwksSource> self, EventLoop loop) {
    RemoteJwksSource s = self.get();
    if (s != null) {
      s.send(loop, () -> {});
    }
  }

  private void scheduleBackground(EventLoop loop, boolean ok) {
    long delayMs = ok ? TimeUnit.NANOSECONDS.toMillis(cacheDurationNanos) : failedRefetchMs;
    WeakReference<RemoteJwksSource> self = new WeakReference<>(this);
    loop.schedule(() -> backgroundFetch(self, loop), Math.max(1, delayMs), TimeUnit.MILLISECONDS);
  }

  private void send(EventLoop loop, Runnable after) {
    Http2Headers h = new DefaultHttp2Headers(false).method(GET).path(path).authority(authority);
    AsyncHttpClient.send(
        loop, clusters, cluster, h, null, timeoutMs, MAX_JWKS_BYTES,
        new AsyncHttpClient.Callback() {
          @Override
          public void onSuccess(AsyncHttpClient.Response r) {
            boolean ok = false;
            if (r.status() == 200) {
              try {
                JwksKeys keys = JwksKeys.parse(new String(r.body(), StandardCharsets.UTF_8));
                snapshot = new Snapshot(keys, nanoTime.getAsLong() + cacheDurationNanos);
                ok = true;
              } catch (ParseException | RuntimeException e) {
                ok = false;
              }
            }
            done(ok);
          }

          @Override
          public void onFailure(boolean timeout, String reason) {
            done(false);
          }

          private void done(boolean ok) {
            (ok ? fetchSuccess : fetchFailed).inc();
            if (async) {
              scheduleBackground(loop, ok);
            }
            after.run();
          }
        });
  }

  private void finishWaiters() {
    List<Waiter> ws;
    synchronized (this) {
      ws = new ArrayList<>(waiters);
      waiters.clear();
      fetching = false;
    }
    for (Waiter w : ws) {
      if (w.loop.inEventLoop()) {
        w.done.run();
      } else {
        w.loop.execute(w.done);
      }
    }
  }
}
