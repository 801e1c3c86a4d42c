package io.legate.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ByteProcessor;
import java.util.List;

/**
 * The downstream HTTP/1.1 request decoder: Netty's, plus the checks
 * Envoy's codec makes that Netty's lenient parser does not.
 *
 * <ul>
 *   <li>Obsolete line folding (a header line starting with a space or tab, RFC 9112 §5.2) is
 *       rejected (400) rather than joined, so no two parsers on the path can disagree about the
 *       header section. The header bytes are scanned as the decoder consumes them; the body is not.
 * </ul>
 *
 * <p>Responses are encoded by {@link Http1ServerHandler} itself ({@link Http1Wire}).
 */
final class Http1ServerCodec extends HttpRequestDecoder {
  Http1ServerCodec(HttpDecoderConfig config) {
    super(config);
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
    if (io.netty.handler.codec.http.HttpMethod.CONNECT.equals(req.method())) {
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
