package io.legate.http.async;

import io.legate.network.Transport;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterManager;
import io.legate.upstream.Host;
import io.legate.upstream.LoadBalancer;
import io.legate.upstream.UpstreamProtocol;
import io.legate.upstream.pool.ConnPool;
import io.legate.upstream.pool.UpstreamCallbacks;
import io.legate.upstream.pool.UpstreamStream;
import io.legate.upstream.pool.WorkerClusters;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP request to a cluster, sent without blocking (Envoy's {@code Http::AsyncClient} for the
 * filters that call services: remote JWKS, ext_authz's HTTP mode). The request goes through the
 * calling worker's own connection pools and load balancer ({@link WorkerClusters}); the answer is
 * delivered on that worker.
 *
 * <p>All methods except {@link #backgroundLoop()} must be called on the event loop given to {@link
 * #send}. A response body above {@code maxResponseBytes} fails the call.
 */
public final class AsyncHttpClient {
  private static final AsciiString HTTP = AsciiString.cached("http");
  private static volatile EventLoopGroup background;

  private AsyncHttpClient() {}

  /** A complete response: status, headers (with {@code :status}) and the body's bytes. */
  public record Response(int status, Http2Headers headers, byte[] body) {}

  /** How a call ends; exactly one method is called, on the caller's event loop. */
  public interface Callback {
    void onSuccess(Response response);

    /**
     * The call failed before a complete response: no healthy host, connection failure, reset,
     * overflow or timeout.
     *
     * @param timeout whether the call's timeout fired
     * @param reason a short description, e.g. {@code "connection failure"}
     */
    void onFailure(boolean timeout, String reason);
  }

  /** An outstanding call. */
  public interface Call {
    /** Abandons the call: no callback follows. Idempotent. */
    void cancel();
  }

  /**
   * Returns a single event loop for calls not made on behalf of a request (fetches at start-up and
   * background refreshes); its thread is a daemon, started on first use.
   */
  public static EventLoop backgroundLoop() {
    EventLoopGroup g = background;
    if (g == null) {
      synchronized (AsyncHttpClient.class) {
        g = background;
        if (g == null) {
          g = Transport.group(1, "legate-async-http");
          background = g;
        }
      }
    }
    return (EventLoop) g.next();
  }

  /**
   * Sends a request to a cluster by name. {@code headers} must carry {@code :method}, {@code :path}
   * and {@code :authority}; {@code :scheme} defaults to {@code http}.
   *
   * @param body request body, owned by the call from here on (released when written or on
   *     failure); null for none
   * @param timeoutMs the whole call's timeout, 0 for none
   * @return the call, for cancelling; the callback may already have run
   */
  public static Call send(
      EventLoop loop,
      ClusterManager clusters,
      String clusterName,
      Http2Headers headers,
      ByteBuf body,
      long timeoutMs,
      int maxResponseBytes,
      Callback callback) {
    Cluster cluster = clusters.get(clusterName);
    if (cluster == null) {
      if (body != null) {
        body.release();
      }
      callback.onFailure(false, "unknown cluster '" + clusterName + "'");
      return () -> {};
    }
    return send(loop, cluster, headers, body, timeoutMs, maxResponseBytes, callback);
  }

  /** Sends a request to {@code cluster}; see {@link #send(EventLoop, ClusterManager, String, Http2Headers, ByteBuf, long, int, Callback)}. */
  public static Call send(
      EventLoop loop,
      Cluster cluster,
      Http2Headers headers,
      ByteBuf body,
      long timeoutMs,
      int maxResponseBytes,
      Callback callback) {
    assert loop.inEventLoop();
    if (headers.scheme() == null) {
      headers.scheme(HTTP);
    }
    RealCall call = new RealCall(loop, headers, body, maxResponseBytes, callback);
    try {
      call.start(cluster, timeoutMs);
    } catch (RuntimeException e) {
      call.abandon();
      call.fail(false, "local error: " + e.getMessage());
    }
    return call;
  }

  /** One call's state machine, confined to its event loop. */
  private static final class RealCall implements Call, UpstreamCallbacks {
    private final EventLoop loop;
    private final Http2Headers requestHeaders;
    private ByteBuf requestBody;
    private final int maxResponseBytes;
    private Callback callback;
    private ConnPool.Cancellable pending;
    private boolean waitingForPool;
    private UpstreamStream stream;
    private ScheduledFuture<?> timer;
    private Http2Headers responseHeaders;
    private ByteBuf responseBody;

    RealCall(EventLoop loop, Http2Headers headers, ByteBuf body, int maxResponseBytes, Callback callback) {
      this.loop = loop;
      this.requestHeaders = headers;
      this.requestBody = body;
      this.maxResponseBytes = maxResponseBytes;
      this.callback = callback;
    }

    void start(Cluster cluster, long timeoutMs) {
      WorkerClusters.Entry entry = WorkerClusters.current().get(cluster, loop);
      Host host = entry.chooseHost(LoadBalancer.LbContext.NONE);
      if (host == null) {
        cluster.info().stats().upstreamCxNoneHealthy.inc();
        fail(false, "no healthy upstream");
        return;
      }
      cluster.info().stats().upstreamRqTotal.inc();
      if (timeoutMs > 0) {
        timer = loop.schedule(this::onTimeout, timeoutMs, TimeUnit.MILLISECONDS);
      }
      boolean h2 = cluster.info().protocol() == UpstreamProtocol.HTTP2;
      waitingForPool = true;
      ConnPool.Cancellable c = entry.pool(host, h2).newStream(this);
      if (waitingForPool) {
        pending = c;
      }
    }

    private void onTimeout() {
      timer = null;
      if (callback == null) {
        return;
      }
      abandon();
      fail(true, "timeout");
    }

    /** Drops the pool request or the stream. */
    private void abandon() {
      if (pending != null) {
        pending.cancel();
        pending = null;
      }
      waitingForPool = false;
      if (stream != null) {
        UpstreamStream s = stream;
        stream = null;
        s.reset();
      }
    }

    @Override
    public void cancel() {
      if (callback == null) {
        return;
      }
      callback = null;
      abandon();
      cleanup();
    }

    private void cleanup() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
      if (requestBody != null) {
        requestBody.release();
        requestBody = null;
      }
      if (responseBody != null) {
        responseBody.release();
        responseBody = null;
      }
    }

    private void fail(boolean timeout, String reason) {
      Callback cb = callback;
      callback = null;
      cleanup();
      if (cb != null) {
        cb.onFailure(timeout, reason);
      }
    }

    @Override
    public void onReady(UpstreamStream s, Host host) {
      waitingForPool = false;
      pending = null;
      if (callback == null) {
        s.reset();
        return;
      }
      stream = s;
      ByteBuf b = requestBody;
      requestBody = null;
      if (b == null || !b.isReadable()) {
        if (b != null) {
          b.release();
        }
        s.writeHeaders(requestHeaders, true);
      } else {
        s.writeHeaders(requestHeaders, false);
        if (stream != null) {
          s.writeData(b, true);
        } else {
          b.release();
        }
      }
    }

    @Override
    public void onPoolFailure(Reason reason, String details, Host host) {
      waitingForPool = false;
      pending = null;
      fail(false, reason.text());
    }

    @Override
    public void onHeaders(Http2Headers headers, boolean endStream) {
      if (callback == null) {
        return;
      }
      responseHeaders = headers;
      if (endStream) {
        complete();
      }
    }

    @Override
    public void onData(ByteBuf data, boolean endStream) {
      if (callback == null) {
        data.release();
        return;
      }
      if (data.isReadable()) {
        if (responseBody == null) {
          responseBody = data.alloc().compositeBuffer(16);
        }
        if (responseBody.readableBytes() + (long) data.readableBytes() > maxResponseBytes) {
          data.release();
          abandon();
          fail(false, "response body too large");
          return;
        }
        ((io.netty.buffer.CompositeByteBuf) responseBody).addComponent(true, data);
      } else {
        data.release();
      }
      if (endStream) {
        complete();
      }
    }

    @Override
    public void onTrailers(Http2Headers trailers) {
      if (callback != null) {
        complete();
      }
    }

    private void complete() {
      stream = null;
      Callback cb = callback;
      callback = null;
      byte[] bytes = responseBody == null ? new byte[0] : ByteBufUtil.getBytes(responseBody);
      cleanup();
      int status = 0;
      CharSequence s = responseHeaders == null ? null : responseHeaders.status();
      if (s != null) {
        try {
          status = Integer.parseInt(s.toString());
        } catch (NumberFormatException e) {
          status = 0;
        }
      }
      cb.onSuccess(new Response(status, responseHeaders, bytes));
    }

    @Override
    public void onReset(Reason reason) {
      stream = null;
      fail(false, reason.text());
    }

    @Override
    public void onWritabilityChanged(boolean writable) {}
  }
}
