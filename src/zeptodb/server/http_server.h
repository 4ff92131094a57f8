// The HTTP transport of zepto_server (Boost.Beast over Asio; the only
// translation unit that includes them).
//
// Connections are coroutines on `io_threads` threads; requests run on a
// separate pool of `worker_threads` so that a long query never stalls the
// reading and writing of other connections, and inserts on a pool of
// `insert_threads` of their own so that queries never queue behind them. A
// body of known length is read into one buffer of that size. HTTP/1.1 keep-alive, chunked
// streaming of large results (one chunk on the wire at a time, so a slow
// reader slows only its own query), `Expect: 100-continue`, a limit on the
// request body (413) and on headers, a timeout for reading a request and for
// each write, and a graceful stop: stop accepting, let in-flight requests
// finish, close idle connections.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace zepto::server {

class Handler;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8123;  // 0: any free port (see HttpServer::port())
  size_t io_threads = 2;
  size_t worker_threads = 4;  // queries
  size_t insert_threads = 2;  // requests with INSERT data (see Handler::is_insert)
  size_t max_body_bytes = size_t{1} << 30;  // as received (compressed)
  size_t max_header_bytes = 1 << 20;
  int read_timeout_seconds = 300;   // to receive one whole request
  int idle_timeout_seconds = 60;    // keep-alive connection without a request
  int write_timeout_seconds = 120;  // to send one chunk
  std::string version;              // for error bodies
  bool handle_signals = false;      // SIGINT / SIGTERM stop the server
};

class HttpServer {
 public:
  // Binds and listens; throws std::runtime_error naming the address if it cannot.
  HttpServer(HttpServerOptions options, Handler& handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  // Serves until stop(); returns when every connection has ended.
  void run();
  // Thread-safe; returns at once (run() returns when the stop is done).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zepto::server
