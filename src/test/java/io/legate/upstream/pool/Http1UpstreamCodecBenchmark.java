package io.legate.upstream.pool;

import io.legate.testing.NettyHeaderCopies;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
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
 * The upstream HTTP/1.1 codec per request: encoding a request head from the header map, decoding a
 * small response into it; beside the Netty codec plus header-map copies it replaced.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class Http1UpstreamCodecBenchmark {
  private static final ByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;
  private Http2Headers request;
  private ByteBuf response;
  private EmbeddedChannel decoder;
  private EmbeddedChannel nettyDecoder;
  private EmbeddedChannel nettyEncoder;

  @Setup
  public void setup() {
    request = new DefaultHttp2Headers();
    request.method("GET").path("/index.html?q=1").scheme("http").authority("example.com");
    request.add("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36");
    request.add("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    request.add("accept-language", "en-US,en;q=0.5");
    request.add("accept-encoding", "gzip, deflate, br");
    request.add("cookie", "session=0123456789abcdef; theme=dark");
    request.add("x-forwarded-proto", "http");
    request.add("x-request-id", "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
    request.add("x-envoy-expected-rq-timeout-ms", "15000");
    String r = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 21:00:00 GMT\r\n"
        + "Content-Type: text/html; charset=utf-8\r\nContent-Length: 64\r\nConnection: keep-alive\r\n"
        + "Cache-Control: private, max-age=0\r\nETag: \"5f3a-64\"\r\n\r\n" + "x".repeat(64);
    response = Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes(r.getBytes(StandardCharsets.US_ASCII)));
    decoder = new EmbeddedChannel(new Http1ResponseDecoder(4096, 65536, 100));
    nettyDecoder = new EmbeddedChannel(new HttpResponseDecoder(4096, 65536, 65536));
    nettyEncoder = new EmbeddedChannel(new HttpRequestEncoder());
  }

  @Benchmark
  public int encodeRequestHead() {
    ByteBuf b = Http1ConnPool.requestHead(ALLOC, request, request.method(), request.path(), request.authority(), null, false);
    int n = b.readableBytes();
    b.release();
    return n;
  }

  @Benchmark
  public int encodeRequestHeadNetty() {
    DefaultHttpRequest req = new DefaultHttpRequest(
        HttpVersion.HTTP_1_1, HttpMethod.valueOf(request.method().toString()), request.path().toString(), false);
    req.headers().set(io.legate.http.HttpHeaderNames.HOST, request.authority());
    NettyHeaderCopies.copyToHttp1(request, req.headers());
    req.headers().remove(io.legate.http.HttpHeaderNames.TE);
    nettyEncoder.writeOutbound(req, LastHttpContent.EMPTY_LAST_CONTENT);
    int n = 0;
    Object m;
    while ((m = nettyEncoder.readOutbound()) != null) {
      n += ((ByteBuf) m).readableBytes();
      ReferenceCountUtil.release(m);
    }
    return n;
  }

  @Benchmark
  public int decodeResponse() {
    decoder.writeInbound(response.duplicate());
    int n = 0;
    Object m;
    while ((m = decoder.readInbound()) != null) {
      if (m instanceof Http1ResponseDecoder.Head h) {
        n += h.headers.size();
      } else if (m instanceof Http1ResponseDecoder.Last l) {
        n += l.data.readableBytes();
        l.data.release();
      } else {
        ReferenceCountUtil.release(m);
      }
    }
    return n;
  }

  @Benchmark
  public int decodeResponseNetty() {
    nettyDecoder.writeInbound(response.duplicate());
    int n = 0;
    Object m;
    while ((m = nettyDecoder.readInbound()) != null) {
      if (m instanceof HttpResponse resp) {
        Http2Headers h = new DefaultHttp2Headers(false, resp.headers().size() + 1);
        h.status(resp.status().codeAsText());
        NettyHeaderCopies.copyFromHttp1(resp.headers(), h);
        n += h.size();
      }
      if (m instanceof HttpContent c) {
        n += c.content().readableBytes();
      }
      ReferenceCountUtil.release(m);
    }
    return n;
  }
}
