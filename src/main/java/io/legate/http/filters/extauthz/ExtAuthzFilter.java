package io.legate.http.filters.extauthz;

import io.legate.http.ResponseFlag;
import io.legate.http.codec.HeaderUtil;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.ForwardAction;
import io.legate.router.Route;
import io.legate.server.Log;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Envoy's ext_authz filter on one stream: asks the authorization service, holding the request (not
 * the worker) until it answers; then continues with the service's header changes, or answers with
 * its denial (flag UAEX), or on an error answers {@code status_on_error} unless {@code
 * failure_mode_allow}.
 */
final class ExtAuthzFilter implements HttpFilter {
  static final String METADATA_NAMESPACE = "envoy.filters.http.ext_authz";
  static final AsciiString FAILURE_MODE_ALLOWED = AsciiString.cached("x-envoy-auth-failure-mode-allowed");
  private static final AsciiString TRUE = AsciiString.cached("true");
  static final String DENIED_DETAILS = "ext_authz_denied";
  static final String ERROR_DETAILS = "ext_authz_error";
  static final String INVALID_DETAILS = "ext_authz_invalid";

  private enum State {
    INIT,
    CALLING,
    COMPLETE,
    RESPONDED
  }

  private final ExtAuthzConfig config;
  private DecoderCallbacks callbacks;
  private State state = State.INIT;
  private boolean stopped;
  private Http2Headers headers;
  private AuthzClient.Call call;
  private List<AuthzResult.HeaderOp> responseHeaders;
  private Map<String, String> extensions = Map.of();
  private CompositeByteBuf body;
  private ExtAuthzConfig.ClusterCounters cluster;

  ExtAuthzFilter(ExtAuthzConfig config) {
    this.config = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.callbacks = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    Route route = callbacks.route();
    boolean withBody = config.maxRequestBytes > 0;
    if (route != null && route.perFilterConfig(config.filterName) instanceof ExtAuthzPerRouteSettings s) {
      if (s.disabled()) {
        return Status.CONTINUE;
      }
      extensions = s.contextExtensions();
      withBody &= !s.disableBodyBuffering();
    }
    this.headers = headers;
    if (route != null && route.action() instanceof ForwardAction fa && fa.clusterName() != null) {
      cluster = config.clusterCounters(fa.clusterName());
    }
    state = State.CALLING;
    if (withBody && !endStream) {
      body = Unpooled.compositeBuffer(64);
      stopped = true;
      return Status.STOP_ITERATION_WATCH_DATA;
    }
    startCheck(null, false);
    if (state == State.COMPLETE) {
      return Status.CONTINUE;
    }
    stopped = true;
    return Status.STOP_ITERATION;
  }

  private void startCheck(byte[] bytes, boolean partial) {
    AuthzClient.Call c = config.client.check(headers, callbacks, extensions, bytes, partial, this::onComplete);
    if (state == State.CALLING) {
      call = c;
    }
  }

  @Override
  public Status decodeData(ByteBuf data, boolean endStream) {
    if (body == null) {
      return Status.CONTINUE;
    }
    int room = config.maxRequestBytes - body.readableBytes();
    if (data.readableBytes() > room) {
      if (!config.allowPartialMessage) {
        releaseBody();
        state = State.RESPONDED;
        callbacks.sendLocalReply(413, "Payload Too Large", null, "request_payload_too_large");
        return Status.CONTINUE;
      }
      body.addComponent(true, data.retainedSlice(data.readerIndex(), room));
      sendBody(true);
    } else {
      body.addComponent(true, data.retainedSlice());
      if (endStream) {
        sendBody(false);
      } else if (config.allowPartialMessage && body.readableBytes() >= config.maxRequestBytes) {
        sendBody(true);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public Status decodeTrailers(Http2Headers trailers) {
    if (body != null) {
      sendBody(false);
    }
    return Status.CONTINUE;
  }

  private void sendBody(boolean partial) {
    byte[] bytes = ByteBufUtil.getBytes(body);
    releaseBody();
    startCheck(bytes, partial);
  }

  private void releaseBody() {
    if (body != null) {
      body.release();
      body = null;
    }
  }

  private void onComplete(AuthzResult r) {
    call = null;
    if (state != State.CALLING) {
      return;
    }
    if (r.kind() != AuthzResult.Kind.ERROR && r.dynamicMetadata() != null && r.dynamicMetadata().getFieldsCount() > 0) {
      // As Envoy: the check response's dynamic_metadata goes under the filter's namespace.
      callbacks.streamInfo().setDynamicMetadata(METADATA_NAMESPACE, r.dynamicMetadata());
    }
    List<AuthzResult.HeaderOp> upstreamOps = r.upstreamHeaders();
    List<AuthzResult.HeaderOp> clientOps = r.clientHeaders();
    if (r.kind() == AuthzResult.Kind.DENIED) {
      config.denied.inc();
      if (cluster != null) {
        cluster.denied().inc();
      }
    }
    if (r.kind() != AuthzResult.Kind.ERROR && !(writable(upstreamOps) && writable(clientOps))) {
      // A header no codec can carry (a name that is not a token; CR, LF or another control in a
      // value): written as is, it would split the upstream request on HTTP/1.1.
      if (config.validateMutations) {
        reject();
        return;
      }
      upstreamOps = writableOnly(upstreamOps);
      clientOps = writableOnly(clientOps);
    }
    switch (r.kind()) {
      case OK -> {
        config.ok.inc();
        if (cluster != null) {
          cluster.ok().inc();
        }
        for (AsciiString name : r.headersToRemove()) {
          headers.remove(name);
        }
        for (AuthzResult.HeaderOp op : upstreamOps) {
          op.apply(headers);
        }
        if (!clientOps.isEmpty()) {
          responseHeaders = clientOps;
        }
        proceed();
      }
      case DENIED -> {
        state = State.RESPONDED;
        callbacks.streamInfo().addResponseFlag(ResponseFlag.UNAUTHORIZED_EXTERNAL_SERVICE);
        Http2Headers extra = null;
        if (!clientOps.isEmpty()) {
          extra = new DefaultHttp2Headers(false);
          for (AuthzResult.HeaderOp op : clientOps) {
            op.apply(extra);
          }
        }
        callbacks.sendLocalReply(r.status(), r.body(), extra, DENIED_DETAILS);
      }
      default -> {
        config.error.inc();
        if (cluster != null) {
          cluster.error().inc();
        }
        if (r.timeout()) {
          config.timeout.inc();
          if (cluster != null) {
            cluster.timeout().inc();
          }
        }
        if (config.failureModeAllow) {
          config.failureModeAllowed.inc();
          if (cluster != null) {
            cluster.failureModeAllowed().inc();
          }
          if (config.failureModeAllowHeaderAdd) {
            headers.set(FAILURE_MODE_ALLOWED, TRUE);
          }
          proceed();
        } else {
          state = State.RESPONDED;
          callbacks.streamInfo().addResponseFlag(ResponseFlag.UNAUTHORIZED_EXTERNAL_SERVICE);
          callbacks.sendLocalReply(config.statusOnError, "", null, ERROR_DETAILS);
        }
      }
    }
  }

  private static boolean writable(List<AuthzResult.HeaderOp> ops) {
    for (AuthzResult.HeaderOp op : ops) {
      if (!HeaderUtil.isValidHeader(op.name(), op.value())) {
        return false;
      }
    }
    return true;
  }

  private static List<AuthzResult.HeaderOp> writableOnly(List<AuthzResult.HeaderOp> ops) {
    List<AuthzResult.HeaderOp> out = new ArrayList<>(ops.size());
    for (AuthzResult.HeaderOp op : ops) {
      if (HeaderUtil.isValidHeader(op.name(), op.value())) {
        out.add(op);
      } else {
        if (Log.enabled(Log.Level.DEBUG)) {
          Log.debug("ext_authz", "ignoring a header the authorization service asked for that cannot be written: "
              + op.name());
        }
      }
    }
    return out;
  }

  /** validate_mutations and a response with a header that cannot be written: 500, as Envoy. */
  private void reject() {
    config.invalid.inc();
    if (cluster != null) {
      cluster.invalid().inc();
    }
    state = State.RESPONDED;
    callbacks.streamInfo().addResponseFlag(ResponseFlag.UNAUTHORIZED_EXTERNAL_SERVICE);
    callbacks.sendLocalReply(500, "", null, INVALID_DETAILS);
  }

  private void proceed() {
    state = State.COMPLETE;
    if (stopped) {
      callbacks.continueDecoding();
    }
  }

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    if (responseHeaders != null) {
      for (AuthzResult.HeaderOp op : responseHeaders) {
        op.apply(headers);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public void onDestroy() {
    releaseBody();
    if (call != null) {
      AuthzClient.Call c = call;
      call = null;
      c.cancel();
    }
    state = State.RESPONDED;
  }
}
