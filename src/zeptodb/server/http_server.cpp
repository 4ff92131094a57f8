#include "zeptodb/server/http_server.h"

#include <algorithm>
#include <atomic>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "zeptodb/common/huge_pages.h"
#include "zeptodb/server/handler.h"

namespace zepto::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;

struct HttpServer::Impl {
  HttpServerOptions opt;
  Handler& handler;
  net::io_context ioc;
  net::thread_pool workers;    // queries, and the encoding of their results
  net::thread_pool inserters;  // requests that carry INSERT data
  tcp::acceptor acceptor;
  net::signal_set signals;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> sessions{0};

  // Connections waiting for a request: closed at once by a stop.
  std::mutex mu;
  std::set<beast::tcp_stream*> idle;

  Impl(HttpServerOptions o, Handler& h)
      : opt(std::move(o)), handler(h), workers(std::max<size_t>(1, opt.worker_threads)),
        inserters(std::max<size_t>(1, opt.insert_threads)),
        acceptor(ioc), signals(ioc) {}

  awaitable<void> listen() {
    while (!stopping) {
      beast::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(net::make_strand(ioc), net::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopping || ec == net::error::operation_aborted) break;
        continue;  // e.g. too many open files: keep serving the others
      }
      // Responses go out as several small writes (header, chunks, last chunk):
      // without TCP_NODELAY, Nagle's algorithm holds the last one back until the
      // client's delayed ACK, about 40 ms per small query.
      socket.set_option(tcp::no_delay(true), ec);
      sessions.fetch_add(1);
      auto ex = socket.get_executor();
      net::co_spawn(ex, session(new tcp::socket(std::move(socket))), net::detached);
    }
  }

  template <typename Body>
  awaitable<bool> send(beast::tcp_stream& stream, http::response<Body>& res) {
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(opt.write_timeout_seconds));
    co_await http::async_write(stream, res, net::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  std::shared_ptr<HttpResponse> too_large() const {
    return std::make_shared<HttpResponse>(Handler::error_response(
        413, 1002, "REQUEST_TOO_LARGE",
        "the request body exceeds the limit of " + std::to_string(opt.max_body_bytes) + " bytes", opt.version));
  }

  awaitable<bool> send_simple(beast::tcp_stream& stream, unsigned version, bool keep_alive, const std::shared_ptr<HttpResponse>& r) {
    http::response<http::string_body> res{static_cast<http::status>(r->status), version};
    res.set(http::field::server, "ZeptoDB");
    for (auto& [k, v] : r->headers) res.set(k, v);
    res.body() = std::move(r->body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    co_return co_await send(stream, res);
  }

  // Runs `fn` on the worker pool; the awaiting coroutine resumes on its own
  // executor with the result. The initiation holds only raw pointers: Asio's
  // use_awaitable passes it by value into a coroutine, and GCC 12 may destroy
  // such parameters twice (the same reason the coroutines below take no
  // by-value parameters that own anything).
  // `fn` is taken by reference and copied here, so that call sites pass a
  // named local and no temporary that owns anything lives in their co_await
  // expression (GCC 12 can destroy such temporaries twice).
  template <typename R>
  auto on_pool(net::thread_pool& pool, const std::function<R()>& fn) {
    auto* job = new std::function<R()>(fn);
    auto* target = &pool;
    return net::async_initiate<const net::use_awaitable_t<>, void(R)>(
        [job, target](auto handler) {
          auto ex = net::get_associated_executor(handler);
          net::post(*target, [job, handler = std::move(handler), ex]() mutable {
            std::unique_ptr<std::function<R()>> owned(job);
            R r = (*owned)();
            owned.reset();
            net::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable { std::move(handler)(std::move(r)); });
          });
        },
        net::use_awaitable);
  }

  awaitable<void> session(tcp::socket* accepted) {
    beast::tcp_stream stream(std::move(*accepted));
    delete accepted;
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(opt.max_body_bytes);
      parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
      beast::error_code ec;
      {
        std::lock_guard lock(mu);
        idle.insert(&stream);
      }
      if (stopping) {
        std::lock_guard lock(mu);
        idle.erase(&stream);
        break;
      }
      stream.expires_after(std::chrono::seconds(first ? opt.read_timeout_seconds : opt.idle_timeout_seconds));
      co_await http::async_read_header(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
      {
        std::lock_guard lock(mu);
        idle.erase(&stream);
      }
      first = false;
      if (ec) {
        if (ec == http::error::body_limit)  // the Content-Length is over the limit
          {
            auto err = too_large();
            co_await send_simple(stream, 11, false, err);
          }
        else if (ec == http::error::header_limit)
          {
            auto err = std::make_shared<HttpResponse>(Handler::error_response(431, 1002, "HEADER_TOO_LARGE", "request headers are too large", opt.version));
            co_await send_simple(stream, 11, false, err);
          }
        else if (ec != http::error::end_of_stream && ec != net::error::operation_aborted && ec != beast::error::timeout &&
                 ec != net::error::eof && ec != net::error::connection_reset)
          {
            auto err = std::make_shared<HttpResponse>(Handler::error_response(400, 1002, "BAD_REQUEST", "malformed HTTP request: " + ec.message(), opt.version));
            co_await send_simple(stream, 11, false, err);
          }
        break;
      }
      auto& head = parser.get();
      unsigned version = head.version();
      if (beast::iequals(head[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, version};
        if (!co_await send(stream, cont)) break;
      }
      stream.expires_after(std::chrono::seconds(opt.read_timeout_seconds));
      auto request = std::make_shared<HttpRequest>();
      const auto length = parser.content_length();
      if (length && !parser.chunked()) {
        // A body of known length is read straight from the socket into one
        // buffer of its size (after the bytes already buffered with the
        // header): no growing buffer, and the decoders read it in place.
        // (A length over the limit failed the header read with body_limit.)
        const size_t total = static_cast<size_t>(*length);
        std::string& body = request->body;
        body.reserve(total);
        advise_huge_pages(body.data(), total);
        const size_t buffered = std::min(total, buffer.size());
        body.resize(buffered);
        net::buffer_copy(net::buffer(body.data(), buffered), buffer.data());
        buffer.consume(buffered);
        // The rest in steps, so that memory is committed as the bytes arrive
        // (not for a length that a client announces and never sends).
        while (body.size() < total) {
          const size_t at = body.size();
          const size_t step = std::min(total - at, size_t{4} << 20);
          body.resize(at + step);
          auto dst = net::buffer(body.data() + at, step);
          co_await net::async_read(stream, dst, net::redirect_error(use_awaitable, ec));
          if (ec) break;
        }
        if (ec) break;  // truncated or timed out: nothing to answer
      } else {
        co_await http::async_read(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
        if (ec) {
          if (ec == http::error::body_limit) {
            auto err = too_large();
            co_await send_simple(stream, version, false, err);
          } else if (ec != http::error::end_of_stream && ec != net::error::eof && ec != beast::error::timeout &&
                     ec != net::error::connection_reset && ec != http::error::partial_message) {
            auto err = std::make_shared<HttpResponse>(Handler::error_response(400, 1002, "BAD_REQUEST", "malformed HTTP request: " + ec.message(), opt.version));
            co_await send_simple(stream, version, false, err);
          }
          break;
        }
        request->body = std::move(parser.get().body());
      }
      const auto& msg = parser.get();
      bool keep_alive = msg.keep_alive() && !stopping;
      request->method = std::string(msg.method_string());
      request->target = std::string(msg.target());
      for (const auto& f : msg) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        request->headers.emplace_back(std::move(name), std::string(f.value()));
      }
      Handler* h = &handler;
      const std::string* server_version = &opt.version;
      // The request runs on the worker pool; a response that must be whole
      // (wait_end_of_query=1) is drained there too.
      std::function<std::shared_ptr<HttpResponse>()> job = [h, request, server_version] {
        auto r = std::make_shared<HttpResponse>(h->handle(*request));
        if (r->more && r->buffer_whole) {
          std::string chunk;
          try {
            while (r->more(chunk)) r->body += chunk;
            r->more = nullptr;
          } catch (const std::exception& e) {
            // Nothing is sent yet: the client gets a proper error instead.
            r = std::make_shared<HttpResponse>(
                Handler::error_response(500, 1001, "STD_EXCEPTION", std::string("encoding the result failed: ") + e.what(),
                                        *server_version));
          }
        }
        return r;
      };
      // Inserts have a pool of their own, so that queries never wait behind
      // them for a thread (inserts into one table run one at a time anyway).
      net::thread_pool& pool = Handler::is_insert(*request) ? inserters : workers;
      auto res = co_await on_pool(pool, job);
      job = nullptr;
      request.reset();
      if (!res->more) {
        if (!co_await send_simple(stream, version, keep_alive, res)) break;
      } else {
        // Streamed: the first chunk is in body, the rest comes from more().
        http::response<http::empty_body> head_res{static_cast<http::status>(res->status), version};
        head_res.set(http::field::server, "ZeptoDB");
        for (auto& [k, v] : res->headers) head_res.set(k, v);
        head_res.keep_alive(keep_alive);
        head_res.chunked(true);
        http::response_serializer<http::empty_body> sr{head_res};
        stream.expires_after(std::chrono::seconds(opt.write_timeout_seconds));
        co_await http::async_write_header(stream, sr, net::redirect_error(use_awaitable, ec));
        if (ec) break;
        auto chunk = std::make_shared<std::string>(std::move(res->body));
        // 1: a chunk follows, 0: the body is complete, -1: encoding failed.
        bool ok = true;
        while (true) {
          if (!chunk->empty()) {
            stream.expires_after(std::chrono::seconds(opt.write_timeout_seconds));
            co_await net::async_write(stream, http::make_chunk(net::buffer(*chunk)), net::redirect_error(use_awaitable, ec));
            if (ec) {
              ok = false;
              break;
            }
          }
          std::function<int()> next = [res, chunk]() -> int {
            try {
              return res->more(*chunk) ? 1 : 0;
            } catch (const std::exception&) {
              return -1;
            }
          };
          int more = co_await on_pool(workers, next);
          if (more < 0) ok = false;
          if (more <= 0) break;
        }
        // The client went away, or encoding failed after the status line was
        // sent: drop the connection without the last chunk, so the client sees
        // a truncated body and never mistakes part of a result for all of it.
        if (!ok) break;
        stream.expires_after(std::chrono::seconds(opt.write_timeout_seconds));
        co_await net::async_write(stream, http::make_chunk_last(), net::redirect_error(use_awaitable, ec));
        if (ec) break;
      }
      if (!keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
    if (sessions.fetch_sub(1) == 1 && stopping) finish();
  }

  void begin_stop() {
    if (stopping.exchange(true)) return;
    net::post(ioc, [this] {
      beast::error_code ec;
      acceptor.close(ec);
      signals.cancel(ec);
      std::lock_guard lock(mu);
      for (auto* s : idle) {
        auto* stream = s;
        net::post(stream->get_executor(), [this, stream] {
          std::lock_guard l(mu);
          if (idle.count(stream)) stream->cancel();
        });
      }
      if (sessions.load() == 0) finish();
    });
  }

  void finish() {
    net::post(ioc, [this] { ioc.stop(); });
  }
};

HttpServer::HttpServer(HttpServerOptions options, Handler& handler) : impl_(std::make_unique<Impl>(std::move(options), handler)) {
  auto& a = impl_->acceptor;
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->opt.host, ec);
  if (ec) {
    tcp::resolver resolver(impl_->ioc);
    auto results = resolver.resolve(impl_->opt.host, std::to_string(impl_->opt.port), ec);
    if (ec || results.empty()) throw std::runtime_error("cannot resolve host '" + impl_->opt.host + "'");
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(address, impl_->opt.port);
  a.open(ep.protocol());
  a.set_option(net::socket_base::reuse_address(true));
  a.bind(ep, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + impl_->opt.host + ":" + std::to_string(impl_->opt.port) + ": " + ec.message());
  a.listen(net::socket_base::max_listen_connections);
}

HttpServer::~HttpServer() {
  impl_->workers.join();
  impl_->inserters.join();
}

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::run() {
  auto& im = *impl_;
  if (im.opt.handle_signals) {
    im.signals.add(SIGINT);
    im.signals.add(SIGTERM);
    im.signals.async_wait([&im](const beast::error_code& ec, int) {
      if (!ec) im.begin_stop();
    });
  }
  net::co_spawn(im.ioc, im.listen(), net::detached);
  std::vector<std::thread> threads;
  for (size_t i = 1; i < std::max<size_t>(1, im.opt.io_threads); ++i) threads.emplace_back([&im] { im.ioc.run(); });
  im.ioc.run();
  for (auto& t : threads) t.join();
  im.workers.join();
  im.inserters.join();
}

void HttpServer::stop() { impl_->begin_stop(); }

}  // namespace zepto::server
