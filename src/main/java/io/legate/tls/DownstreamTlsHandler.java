package io.legate.tls;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Waits for the downstream TLS handshake, counts it, then hands the negotiated ALPN protocol (or
 * null) to a callback that installs the codec after this handler; bytes decrypted before that are
 * replayed to the codec. A failed handshake closes the connection.
 */
public final class DownstreamTlsHandler extends ChannelInboundHandlerAdapter {
  private final ServerTlsContext tls;
  private final BiConsumer<ChannelHandlerContext, String> onHandshake;
  private List<Object> buffered;
  private boolean done;

  public DownstreamTlsHandler(ServerTlsContext tls, BiConsumer<ChannelHandlerContext, String> onHandshake) {
    this.tls = tls;
    this.onHandshake = onHandshake;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (done) {
      ctx.fireChannelRead(msg);
      return;
    }
    if (buffered == null) {
      buffered = new ArrayList<>(2);
    }
    buffered.add(msg);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof SslHandshakeCompletionEvent e && !done) {
      TlsStats s = tls.stats();
      if (!e.isSuccess()) {
        s.connectionError.inc();
        if (e.cause() != null && e.cause().getMessage() != null
            && (e.cause().getMessage().contains("PEER_DID_NOT_RETURN_A_CERTIFICATE")
                || e.cause().getMessage().contains("Empty client certificate chain"))) {
          s.failVerifyNoCert.inc();
        }
        release();
        ctx.close();
        return;
      }
      done = true;
      s.handshake.inc();
      SslHandler ssl = ctx.pipeline().get(SslHandler.class);
      if (tls.requestsClientCertificate() && ssl != null) {
        try {
          ssl.engine().getSession().getPeerCertificates();
        } catch (SSLPeerUnverifiedException ex) {
          s.noCertificate.inc();
        }
      }
      if (ssl != null && SessionResumption.reused(ssl.engine())) {
        s.sessionReused.inc();
      }
      String alpn = ssl == null ? null : ssl.applicationProtocol();
      onHandshake.accept(ctx, alpn);
      List<Object> b = buffered;
      buffered = null;
      ctx.pipeline().remove(this);
      if (b != null) {
        for (Object m : b) {
          ctx.fireChannelRead(m);
        }
        ctx.fireChannelReadComplete();
      }
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!done) {
      ctx.close(); // handshake errors: counted by the completion event
      return;
    }
    ctx.fireExceptionCaught(cause);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    release();
    super.channelInactive(ctx);
  }

  private void release() {
    if (buffered != null) {
      buffered.forEach(ReferenceCountUtil::release);
      buffered = null;
    }
  }
}
