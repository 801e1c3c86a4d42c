package io.legate.http.codec;

import io.legate.testing.NettyHeaderCopies;
import io.envoyproxy.envoy.config.core.v3.HttpProtocolOptions.HeadersWithUnderscoresAction;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The HTTP/1.1 header work every proxied HTTP/1.1 request and response pays (a browser-like request
 * of 10 headers, a response of 6): the downstream codec's path (bytes → header map, header map →
 * bytes) beside Netty's codec with the conversions it needs ({@code *Netty}), and the conversions
 * alone ({@code requestFromHttp1}, {@code responseToHttp1}, still used upstream).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class HeaderCodecBenchmark {
  private static final String REQUEST =
      "GET /index.html?q=1 HTTP/1.1\r\n"
          + "Host: example.com\r\n"
          + "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n"
          + "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
          + "Accept-Language: en-US,en;q=0.5\r\n"
          + "Accept-Encoding: gzip, deflate, br\r\n"
          + "Connection: keep-alive\r\n"
          + "Cookie: session=0123456789abcdef; theme=dark\r\n"
          + "Upgrade-Insecure-Requests: 1\r\n"
          + "Cache-Control: max-age=0\r\n"
          + "X-Request-Id: 6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b\r\n"
          + "\r\n";

  private HttpHeaders request;
  private Http2Headers response;
  private ByteBuf requestBytes;
  private EmbeddedChannel codec;
  private EmbeddedChannel nettyDecoder;
  private EmbeddedChannel nettyEncoder;

  @Setup
  public void setup() {
    request = new DefaultHttpHeaders();
    request.add("Host", "example.com");
    request.add("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36");
    request.add("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    request.add("Accept-Language", "en-US,en;q=0.5");
    request.add("Accept-Encoding", "gzip, deflate, br");
    request.add("Connection", "keep-alive");
    request.add("Cookie", "session=0123456789abcdef; theme=dark");
    request.add("Upgrade-Insecure-Requests", "1");
    request.add("Cache-Control", "max-age=0");
    request.add("X-Request-Id", "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
    response = new DefaultHttp2Headers();
    response.status("200");
    response.add("content-type", "text/html; charset=utf-8");
    response.add("content-length", "1234");
    response.add("cache-control", "private, max-age=0");
    response.add("date", "Thu, 26 Nov 2026 21:00:00 GMT");
    response.add("x-envoy-upstream-service-time", "3");
    response.add("server", "envoy");
    requestBytes = Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes(REQUEST.getBytes(StandardCharsets.US_ASCII)));
    codec = new EmbeddedChannel(new Http1ServerCodec(60 * 1024, 100, false, "", HeadersWithUnderscoresAction.ALLOW, false));
    nettyDecoder = new EmbeddedChannel(new HttpRequestDecoder());
    nettyEncoder = new EmbeddedChannel(new HttpResponseEncoder());
  }

  /** The downstream codec: request bytes → the proxy's header map. */
  @Benchmark
  public Http2Headers requestParse() {
    codec.writeInbound(requestBytes.duplicate());
    Http1ServerCodec.Request r = codec.readInbound();
    return r.headers;
  }

  /** Netty's decoder and the copy into the proxy's header map (the path before). */
  @Benchmark
  public Http2Headers requestParseNetty() {
    nettyDecoder.writeInbound(requestBytes.duplicate());
    HttpRequest req = nettyDecoder.readInbound();
    ReferenceCountUtil.release(nettyDecoder.readInbound()); // the empty last content
    Http2Headers out = new DefaultHttp2Headers(false, 16);
    NettyHeaderCopies.copyFromHttp1(req.headers(), out);
    return out;
  }

  /** The downstream codec: the proxy's header map → response bytes. */
  @Benchmark
  public int responseEncode() {
    ByteBuf out = ByteBufAllocator.DEFAULT.buffer(256);
    Http1Wire.writeStatusLine(out, false, 200);
    Http1Wire.writeHeaders(out, response, false);
    Http1Wire.endHeaders(out);
    int n = out.readableBytes();
    out.release();
    return n;
  }

  /** The copy into Netty's response and Netty's encoder (the path before). */
  @Benchmark
  public int responseEncodeNetty() {
    DefaultFullHttpResponse r =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER, false, false);
    NettyHeaderCopies.copyToHttp1(response, r.headers());
    nettyEncoder.writeOutbound(r);
    int n = 0;
    for (ByteBuf out; (out = nettyEncoder.readOutbound()) != null; ) {
      n += out.readableBytes();
      out.release();
    }
    return n;
  }

  @Benchmark
  public Http2Headers requestFromHttp1() {
    Http2Headers out = new DefaultHttp2Headers(false, 16);
    NettyHeaderCopies.copyFromHttp1(request, out);
    return out;
  }

  @Benchmark
  public HttpHeaders responseToHttp1() {
    HttpHeaders out = new DefaultHttpHeaders(false);
    NettyHeaderCopies.copyToHttp1(response, out);
    return out;
  }
}
