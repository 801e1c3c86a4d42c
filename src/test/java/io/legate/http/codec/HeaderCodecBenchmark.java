package io.legate.http.codec;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
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
 * The HTTP/1.1 ↔ internal header-map translation every proxied HTTP/1.1 request and response pays
 * (a browser-like request of 10 headers, a response of 6).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class HeaderCodecBenchmark {
  private HttpHeaders request;
  private Http2Headers response;

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
  }

  @Benchmark
  public Http2Headers requestFromHttp1() {
    Http2Headers out = new DefaultHttp2Headers(false, 16);
    HeaderUtil.copyFromHttp1(request, out);
    return out;
  }

  @Benchmark
  public HttpHeaders responseToHttp1() {
    HttpHeaders out = new DefaultHttpHeaders(false);
    HeaderUtil.copyToHttp1(response, out);
    return out;
  }
}
