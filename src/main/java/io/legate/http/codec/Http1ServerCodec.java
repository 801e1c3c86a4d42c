package io.legate.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ByteProcessor;
import java.util.List;

/**
 * The downstream HTTP/1.1 codec: Netty's request decoder and response encoder, plus the checks
 * Envoy's codec makes that Netty's lenient parser does not.
 *
 * <ul>
 *   <li>Obsolete line folding (a header line starting with a space or tab, RFC 9112 §5.2) is
 *       rejected (400) rather than joined, so no two parsers on the path can disagree about the
 *       header section. The header bytes are scanned as the decoder consumes them; the body is not.
 *   <li>Responses to HEAD requests carry no body (the encoder learns each request's method in
 *       order, as Netty's {@code HttpServerCodec} does).
 * </ul>
 */
final class Http1ServerCodec extends CombinedChannelDuplexHandler<HttpRequestDecoder, HttpResponseEncoder> {
  /** Methods of the requests whose responses are not written yet, oldest first (HEAD or not). */
  private final java.util.ArrayDeque<HttpMethod> methods = new java.util.ArrayDeque<>(4);

  Http1ServerCodec(HttpDecoderConfig config) {
    init(new Decoder(config), new Encoder());
  }

  /** Thrown into a request's decoder result when its header section uses obsolete line folding. */
  static final class ObsFoldException extends IllegalArgumentException {
    ObsFoldException() {
      super("obsolete line folding in the header section", null);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  /** Whether an upgrade or CONNECT request was decoded: nothing more is parsed as HTTP. */
  private boolean upgradePending;

  /**
   * Returns whether a decoded request asks to leave HTTP/1.1: CONNECT, or {@code Connection:
   * upgrade} with an {@code Upgrade} header other than h2c (which is ignored, as Envoy), on an
   * HTTP/1.1 request without a body. What follows such a request is not parsed as HTTP: it is
   * tunnel payload once the response switches protocols, and the connection closes otherwise.
   */
  static boolean isUpgradeRequest(HttpRequest req) {
    if (!req.decoderResult().isSuccess() || !req.protocolVersion().equals(io.netty.handler.codec.http.HttpVersion.HTTP_1_1)) {
      return false;
    }
    io.netty.handler.codec.http.HttpHeaders h = req.headers();
    if (io.netty.handler.codec.http.HttpUtil.isTransferEncodingChunked(req)
        || io.netty.handler.codec.http.HttpUtil.getContentLength(req, 0L) != 0) {
      return false;
    }
    if (HttpMethod.CONNECT.equals(req.method())) {
      return true;
    }
    String upgrade = h.get(io.netty.handler.codec.http.HttpHeaderNames.UPGRADE);
    if (upgrade == null || upgrade.isBlank() || upgrade.trim().equalsIgnoreCase("h2c")) {
      return false;
    }
    return h.containsValue(io.netty.handler.codec.http.HttpHeaderNames.CONNECTION,
        io.netty.handler.codec.http.HttpHeaderValues.UPGRADE, true);
  }

  /**
   * Leaves HTTP: removes this codec from the pipeline after the response that switched protocols
   * was written. Bytes the decoder held go on, raw, to the next handler.
   */
  void switchToTunnel(io.netty.channel.ChannelPipeline pipeline) {
    pipeline.remove(this);
  }

  private final class Decoder extends HttpRequestDecoder {
    /** Whether the bytes being consumed are a request line and header section (not a body). */
    private boolean inHeaders = true;
    /** Whether the last header byte consumed was a line feed. */
    private boolean afterLf;
    /** Whether the current header section folded a line. */
    private boolean folded;

    private final ByteProcessor foldFinder =
        b -> {
          if (afterLf && (b == ' ' || b == '\t')) {
            folded = true;
            return false;
          }
          afterLf = b == '\n';
          return true;
        };

    Decoder(HttpDecoderConfig config) {
      super(config);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
      if (upgradePending) {
        return; // held until the codec leaves the pipeline (tunnel) or the connection closes
      }
      int start = buffer.readerIndex();
      int before = out.size();
      boolean scanning = inHeaders;
      super.decode(ctx, buffer, out);
      int end = buffer.readerIndex();
      if (scanning && end > start && !folded) {
        buffer.forEachByte(start, end - start, foldFinder);
      }
      for (int i = before, n = out.size(); i < n; i++) {
        Object o = out.get(i);
        if (o instanceof HttpRequest req) {
          methods.add(req.method());
          if (!folded && isUpgradeRequest(req)) {
            upgradePending = true;
          }
          inHeaders = false;
          if (folded && req.decoderResult().isSuccess()) {
            req.setDecoderResult(DecoderResult.failure(new ObsFoldException()));
          }
          folded = false;
          afterLf = false;
        }
        if (o instanceof LastHttpContent) {
          inHeaders = true;
          afterLf = false;
        }
      }
    }
  }

  private final class Encoder extends HttpResponseEncoder {
    @Override
    protected boolean isContentAlwaysEmpty(HttpResponse msg) {
      if (msg.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
        return super.isContentAlwaysEmpty(msg);
      }
      HttpMethod m = methods.poll();
      return HttpMethod.HEAD.equals(m) || super.isContentAlwaysEmpty(msg);
    }
  }
}
