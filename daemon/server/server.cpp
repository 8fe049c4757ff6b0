// The listener and the per-connection sessions of the HTTP server (Boost.Beast).

#include "promwatch/http_server.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>
#include <unordered_map>

#include "promwatch/base64.hpp"
#include "server_internal.hpp"

namespace promwatch {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using Sha256 = std::array<unsigned char, 32>;

Sha256 sha256(std::string_view data) {
  Sha256 out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string error_text(const boost::system::error_code& ec) {
  std::string m = ec.message();
  if (!m.empty() && m[0] >= 'A' && m[0] <= 'Z' && !(m.size() > 1 && m[1] >= 'A' && m[1] <= 'Z'))
    m[0] = static_cast<char>(m[0] - 'A' + 'a');
  return m;
}

std::string format_endpoint(const tcp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

/// Parses `server.listen`; `any` is set for ":port" (all interfaces).
tcp::endpoint parse_listen(const std::string& listen, bool& any) {
  auto fail = [&](const std::string& why) -> std::runtime_error {
    return std::runtime_error("listen " + listen + ": " + why);
  };
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw fail("missing port (expected host:port)");
  std::string host = listen.substr(0, colon);
  std::string port_text = listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos)
    throw fail("invalid port");
  unsigned long port = std::stoul(port_text);
  if (port > 65535) throw fail("invalid port");
  any = host.empty();
  if (any) return tcp::endpoint(asio::ip::address_v6::any(), static_cast<std::uint16_t>(port));
  if (server_detail::iequals(host, "localhost"))
    return tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<std::uint16_t>(port));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos) throw fail("IPv6 addresses need brackets: [::1]:9097");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw fail("invalid address \"" + host + "\" (expected an IP address or localhost)");
  return tcp::endpoint(addr, static_cast<std::uint16_t>(port));
}

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void abort() = 0;
  /// Waiting for (or still receiving) a request: nothing of ours is in progress, so closing it
  /// loses no answer. Such a connection may be evicted when the connection cap is reached.
  bool waiting_for_request() const { return waiting_; }
  std::chrono::steady_clock::time_point waiting_since() const { return waiting_since_; }

 protected:
  bool waiting_ = false;
  std::chrono::steady_clock::time_point waiting_since_{};
};

/// What to send for one request.
struct Outcome {
  ServerResponse response;
  bool head = false;
  bool close = false;
};

bool state_changing(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "DELETE" || method == "PATCH";
}

}  // namespace

namespace server_detail {

/// Everything the listener and the sessions share. Sessions keep it alive, so that handlers
/// still queued after the HttpServer is gone find valid memory.
struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(asio::io_context& io_, ServerOptions options_, HttpServer::Handler handler_)
      : io(io_), options(std::move(options_)), handler(std::move(handler_)), acceptor(io_),
        retry_timer(io_) {}

  asio::io_context& io;
  ServerOptions options;
  HttpServer::Handler handler;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::optional<asio::ssl::context> ssl;
  bool loopback = false;
  bool stopped = false;
  tcp::endpoint local;
  std::optional<std::pair<Sha256, Sha256>> auth;  // digests of username and password
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;

  void set_auth(const std::optional<ServerBasicAuth>& a) {
    if (a) auth.emplace(sha256(a->username), sha256(a->password));
    else auth.reset();
  }

  void accept();
  template <typename Stream>
  void start_session(Stream stream, std::string remote);

  Outcome process(http::request<http::string_body>& req, const std::string& remote);
  bool authorized(const std::string* authorization) const;
};

}  // namespace server_detail
using server_detail::ServerState;

struct HttpServer::State : ServerState {
  using ServerState::ServerState;
};

namespace {

ServerResponse plain(int status, std::string body) {
  return ServerResponse::text(status, std::move(body) + "\n");
}

template <typename Stream>
constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;

/// One connection: read a request, answer it, repeat while keep-alive holds.
template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(std::shared_ptr<ServerState> state, Stream stream, std::string remote)
      : state_(std::move(state)), stream_(std::move(stream)), remote_(std::move(remote)) {}

  ~Session() override { state_->sessions.erase(this); }

  void start() {
    state_->sessions.emplace(this, this->weak_from_this());
    waiting_ = true;  // a TLS handshake counts as waiting for the request
    waiting_since_ = std::chrono::steady_clock::now();
    if constexpr (is_tls<Stream>) {
      lowest().expires_after(state_->options.read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec || self->state_->stopped) return self->abort();
                                self->read();
                              });
    } else {
      read();
    }
  }

  void abort() override {
    waiting_ = false;  // never chosen for eviction twice
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void read() {
    waiting_ = true;
    waiting_since_ = std::chrono::steady_clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(state_->options.max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(state_->options.max_body_bytes));
    // One deadline for the whole request: dribbling bytes does not extend it.
    lowest().expires_after(state_->options.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec || state_->stopped || parser_->is_done()) return on_read(ec);
    // curl waits a second for "100 Continue" before sending a body it announced so.
    auto expect = parser_->get()[http::field::expect];
    if (server_detail::iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](beast::error_code wec, std::size_t) {
                          if (wec || self->state_->stopped) return self->abort();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    waiting_ = false;
    if (state_->stopped) return abort();
    if (ec == http::error::body_limit) {
      return send(plain(413, "request body larger than " +
                                 std::to_string(state_->options.max_body_bytes) + " bytes"),
                  false, true);
    }
    if (ec == http::error::header_limit) {
      return send(plain(431, "request header larger than " +
                                 std::to_string(state_->options.max_header_bytes) + " bytes"),
                  false, true);
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return abort();
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())
      return send(plain(400, "bad request: " + ec.message()), false, true);
    if (ec) return abort();  // timeout, reset, TLS error

    auto req = parser_->release();
    Outcome out = state_->process(req, remote_);
    const bool close = out.close || !req.keep_alive();
    if (out.response.deferred) {
      // Nothing is read meanwhile: HTTP/1.1 answers in order, so the connection just waits.
      auto deferred = std::move(out.response.deferred);
      deferred([self = this->shared_from_this(), head = out.head, close](ServerResponse r) {
        if (self->state_->stopped) return self->abort();
        r.deferred = nullptr;
        self->send(std::move(r), head, close);
      });
      return;
    }
    send(std::move(out.response), out.head, close);
  }

  void send(ServerResponse r, bool head, bool close) {
    if (r.status < 100 || r.status > 599) r = plain(500, "internal server error");
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(r.status));
    if (!r.content_type.empty()) res_.set(http::field::content_type, r.content_type);
    res_.set("X-Content-Type-Options", "nosniff");
    for (auto& [name, value] : r.headers) {
      std::string lname = server_detail::to_lower(name);
      // Never grant CORS; framing headers are ours to set.
      if (lname.rfind("access-control-", 0) == 0 || lname == "content-length" ||
          lname == "transfer-encoding" || lname == "connection" || lname == "content-type")
        continue;
      // No header injection through values a handler took from a request.
      if (name.empty() || name.find_first_of("\r\n:") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos)
        continue;
      res_.insert(name, value);
    }
    res_.keep_alive(!close);
    const bool bodyless = r.status < 200 || r.status == 204 || r.status == 304;
    if (!bodyless) res_.body() = std::move(r.body);
    res_.prepare_payload();
    if (head && !bodyless) {
      auto n = res_.body().size();
      res_.body().clear();
      res_.content_length(n);
    }
    lowest().expires_after(state_->options.write_timeout);
    http::async_write(stream_, res_,
                      [self = this->shared_from_this(), close](beast::error_code ec, std::size_t) {
                        if (ec || self->state_->stopped) return self->abort();
                        if (close) return self->finish();
                        self->read();
                      });
  }

  /// Closes after a response with `Connection: close`. Plain TCP: half-close and drain what the
  /// client still sends (e.g. the rest of an oversized body) so that the kernel does not answer
  /// it with a reset that could destroy our response before the client reads it.
  void finish() {
    if constexpr (is_tls<Stream>) {
      lowest().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->abort(); });
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return abort();
      lowest().expires_after(std::chrono::seconds(2));
      drain();
    }
  }

  void drain() {
    lowest().async_read_some(asio::buffer(drain_buf_),
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                               self->drained_ += n;
                               if (ec || self->state_->stopped ||
                                   self->drained_ > 2 * self->state_->options.max_body_bytes + 65536)
                                 return self->abort();
                               self->drain();
                             });
  }

  std::shared_ptr<ServerState> state_;
  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_{64 * 1024};
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::array<char, 16 * 1024> drain_buf_{};
  std::size_t drained_ = 0;
};

}  // namespace

template <typename Stream>
void ServerState::start_session(Stream stream, std::string remote) {
  std::make_shared<Session<Stream>>(shared_from_this(), std::move(stream), std::move(remote))->start();
}

void ServerState::accept() {
  acceptor.async_accept(io, [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // EMFILE and friends: try again shortly instead of spinning.
      self->retry_timer.expires_after(std::chrono::milliseconds(100));
      self->retry_timer.async_wait([self](beast::error_code wec) {
        if (!wec && !self->stopped) self->accept();
      });
      return;
    }
    // At the cap, the connection that has waited longest for a request is closed to make room
    // (a slowloris client holding every slot would otherwise lock everyone out, /healthz
    // included); connections busy with a request are never evicted. Without one to evict, the
    // new connection is closed.
    bool room = self->sessions.size() < self->options.max_connections;
    if (!room) {
      std::shared_ptr<SessionBase> oldest;
      for (auto& [ptr, weak] : self->sessions) {
        auto session = weak.lock();
        if (!session || !session->waiting_for_request()) continue;
        if (!oldest || session->waiting_since() < oldest->waiting_since()) oldest = std::move(session);
      }
      if (oldest) {
        oldest->abort();
        room = true;
      }
    }
    if (!room) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto remote_ep = socket.remote_endpoint(ignored);
      std::string remote = ignored ? std::string("unknown") : format_endpoint(remote_ep);
      if (self->ssl) {
        self->start_session(beast::ssl_stream<beast::tcp_stream>(std::move(socket), *self->ssl),
                            std::move(remote));
      } else {
        self->start_session(beast::tcp_stream(std::move(socket)), std::move(remote));
      }
    }
    self->accept();
  });
}

bool ServerState::authorized(const std::string* authorization) const {
  if (!authorization) return false;
  std::string_view value = *authorization;
  if (value.size() < 6 || !server_detail::iequals(value.substr(0, 6), "basic ")) return false;
  value.remove_prefix(6);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  auto decoded = base64_decode(value);
  if (!decoded) return false;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  // Compare digests, so that the comparison takes the same time whatever the lengths.
  Sha256 user = sha256(std::string_view(*decoded).substr(0, colon));
  Sha256 pass = sha256(std::string_view(*decoded).substr(colon + 1));
  int bad_user = CRYPTO_memcmp(user.data(), auth->first.data(), user.size());
  int bad_pass = CRYPTO_memcmp(pass.data(), auth->second.data(), pass.size());
  return (bad_user | bad_pass) == 0;
}

Outcome ServerState::process(http::request<http::string_body>& req, const std::string& remote) {
  Outcome out;
  ServerRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.remote_address = remote;
  if (r.target.empty() || r.target.front() != '/') {
    out.response = plain(400, "bad request: request target must be a path");
    out.close = true;
    return out;
  }
  auto qmark = r.target.find('?');
  r.path = r.target.substr(0, qmark);
  if (qmark != std::string::npos) {
    auto q = parse_query_string(std::string_view(r.target).substr(qmark + 1));
    if (!q) {
      out.response = plain(400, "bad request: malformed query string");
      return out;
    }
    r.query = std::move(*q);
  }
  for (const auto& field : req)
    r.headers.emplace_back(server_detail::to_lower(field.name_string()), std::string(field.value()));
  r.body = std::move(req.body());
  if (r.method == "HEAD") {
    r.method = "GET";
    r.head = out.head = true;
  }

  if (r.method == "TRACE" || r.method == "CONNECT") {
    out.response = plain(405, "method not allowed");
    return out;
  }

  const std::string* host = r.header("host");
  if (loopback && host && !is_loopback_host(*host)) {
    out.response = plain(403, "forbidden: the Host header must name a loopback address when "
                              "promwatch listens on loopback");
    return out;
  }

  if (auth && r.path != "/healthz" && r.path != "/readyz" && !authorized(r.header("authorization"))) {
    out.response = plain(401, "unauthorized");
    out.response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"promwatch\", charset=\"UTF-8\"");
    return out;
  }

  if (state_changing(r.method)) {
    const std::string* origin = r.header("origin");
    if (origin && !(host && server_detail::origin_matches_host(*origin, *host))) {
      out.response = plain(403, "forbidden: cross-origin request");
      return out;
    }
    if (!r.body.empty()) {
      const std::string* ct = r.header("content-type");
      if (!ct || !server_detail::iequals(server_detail::media_type(*ct), "application/json")) {
        out.response = plain(415, "unsupported media type: the body must be sent with "
                                  "Content-Type: application/json");
        return out;
      }
    }
  }

  try {
    if (!handler) throw std::runtime_error("no handler");
    out.response = handler(r);
  } catch (const std::exception&) {
    out.response = plain(500, "internal server error");
  } catch (...) {
    out.response = plain(500, "internal server error");
  }
  return out;
}

HttpServer::HttpServer(boost::asio::io_context& io, ServerOptions options, Handler handler)
    : state_(std::make_shared<State>(io, std::move(options), std::move(handler))) {
  ServerState& s = *state_;
  const std::string& listen = s.options.listen;

  if (s.options.tls_cert_file.empty() != s.options.tls_key_file.empty())
    throw std::runtime_error("server.tls: cert_file and key_file must both be set");
  if (!s.options.tls_cert_file.empty()) {
    s.ssl.emplace(asio::ssl::context::tls_server);
    s.ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    boost::system::error_code ec;
    s.ssl->use_certificate_chain_file(s.options.tls_cert_file, ec);
    if (ec)
      throw std::runtime_error("server.tls: cannot load cert_file " + s.options.tls_cert_file +
                               ": " + error_text(ec));
    s.ssl->use_private_key_file(s.options.tls_key_file, asio::ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("server.tls: cannot load key_file " + s.options.tls_key_file +
                               ": " + error_text(ec));
  }

  bool any = false;
  tcp::endpoint ep = parse_listen(listen, any);
  boost::system::error_code ec;
  s.acceptor.open(ep.protocol(), ec);
  if (ec && any) {  // no IPv6 on this host: all IPv4 interfaces
    ep = tcp::endpoint(asio::ip::address_v4::any(), ep.port());
    ec.clear();
    s.acceptor.open(ep.protocol(), ec);
  }
  if (ec) throw std::runtime_error("listen " + listen + ": " + error_text(ec));
  if (any && ep.address().is_v6()) s.acceptor.set_option(asio::ip::v6_only(false), ec);
  s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    s.acceptor.close(ignored);
    throw std::runtime_error("listen " + listen + ": " + error_text(ec));
  }
  s.local = s.acceptor.local_endpoint(ec);
  s.loopback = s.local.address().is_loopback();
  s.set_auth(s.options.basic_auth);
  s.accept();
}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::local_port() const { return state_->local.port(); }
std::string HttpServer::local_address() const { return format_endpoint(state_->local); }
bool HttpServer::loopback() const { return state_->loopback; }
bool HttpServer::tls() const { return state_->ssl.has_value(); }
std::size_t HttpServer::connections() const { return state_->sessions.size(); }

void HttpServer::set_basic_auth(std::optional<ServerBasicAuth> auth) { state_->set_auth(auth); }
void HttpServer::set_handler(Handler handler) { state_->handler = std::move(handler); }

void HttpServer::stop() {
  ServerState& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  boost::system::error_code ignored;
  s.acceptor.close(ignored);
  s.retry_timer.cancel();
  std::vector<std::shared_ptr<SessionBase>> open;
  for (auto& [ptr, weak] : s.sessions)
    if (auto session = weak.lock()) open.push_back(std::move(session));
  for (auto& session : open) session->abort();
}

}  // namespace promwatch
