package io.legate.http.filters.rbac;

import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.rbac.PeerIdentity;
import io.legate.rbac.RbacEngine;
import io.legate.rbac.RbacInput;
import io.legate.rbac.RbacStats;
import io.legate.router.Route;
import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetSocketAddress;

/**
 * Envoy's RBAC filter on one stream: on the request headers, the shadow engine (if any) is
 * evaluated and counted, then the enforced engine allows the request or answers 403. The filter is
 * its own {@link RbacInput}, so a check allocates nothing.
 */
final class RbacFilter implements HttpFilter, RbacInput {
  static final String DENIED_BODY = "RBAC: access denied";

  private final RbacConfig config;
  private final RbacStats stats;
  private final String filterName;
  private DecoderCallbacks decoder;
  private Http2Headers headers;
  private PeerIdentity peer;

  RbacFilter(RbacConfig config, RbacStats stats, String filterName) {
    this.config = config;
    this.stats = stats;
    this.filterName = filterName;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    RbacConfig c = config;
    Route route = decoder.route();
    if (route != null && route.perFilterConfig(filterName) instanceof RbacConfig r) {
      c = r;
    }
    this.headers = headers;
    if (c.shadow() != null) {
      RbacEngine shadow = c.shadow();
      if (shadow.allowed(shadow.match(this))) {
        stats.shadowAllowed.inc();
      } else {
        stats.shadowDenied.inc();
      }
    }
    RbacEngine engine = c.engine();
    if (engine == null) {
      return Status.CONTINUE;
    }
    RbacEngine.CompiledPolicy matched = engine.match(this);
    if (engine.action() == RbacEngine.Action.LOG) {
      (matched != null ? stats.logged : stats.notLogged).inc();
    }
    if (engine.allowed(matched)) {
      stats.allowed.inc();
      return Status.CONTINUE;
    }
    stats.denied.inc();
    decoder.sendLocalReply(403, DENIED_BODY, null, RbacEngine.deniedDetails(matched));
    return Status.STOP_ITERATION;
  }

  @Override
  public InetSocketAddress directRemoteAddress() {
    return decoder.streamInfo().downstreamRemoteAddress();
  }

  @Override
  public InetSocketAddress remoteAddress() {
    return decoder.streamInfo().downstreamClientAddress();
  }

  @Override
  public InetSocketAddress localAddress() {
    return decoder.streamInfo().downstreamLocalAddress();
  }

  @Override
  public PeerIdentity peer() {
    if (peer == null) {
      peer =
          decoder.downstreamTls() && decoder.connectionAttributes() instanceof Channel ch
              ? PeerIdentity.of(ch)
              : PeerIdentity.NONE;
    }
    return peer;
  }

  @Override
  public Http2Headers headers() {
    return headers;
  }
}
