package io.legate.http;

import io.netty.util.AsciiString;
import io.netty.util.concurrent.FastThreadLocal;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

/** The HTTP Date header value, formatted at most once per second per worker. */
final class DateHeader {
  private static final FastThreadLocal<DateHeader> CACHE =
      new FastThreadLocal<>() {
        @Override
        protected DateHeader initialValue() {
          return new DateHeader();
        }
      };

  private long second = -1;
  private AsciiString value;

  static AsciiString now() {
    return CACHE.get().value(System.currentTimeMillis() / 1000);
  }

  private AsciiString value(long nowSecond) {
    if (nowSecond != second) {
      second = nowSecond;
      value =
          AsciiString.of(
              DateTimeFormatter.RFC_1123_DATE_TIME.format(
                  ZonedDateTime.ofInstant(java.time.Instant.ofEpochSecond(nowSecond), ZoneOffset.UTC)));
    }
    return value;
  }
}
