// A scriptable loopback HTTP/1.1 server for tests: one accept thread plus one thread per
// connection, plain POSIX sockets and poll(). Every blocking point also polls a wake pipe (or
// waits on a condition variable) so the destructor stops everything promptly.

#include "support/http_test_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace promwatch::test {
namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 256u * 1024 * 1024;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_urlencoded(std::string_view s) {
  std::map<std::string, std::string> out;
  while (!s.empty()) {
    std::size_t amp = s.find('&');
    std::string_view part = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view() : s.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out[url_decode(part)] = "";
    } else {
      out[url_decode(part.substr(0, eq))] = url_decode(part.substr(eq + 1));
    }
  }
  return out;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 425: return "Too Early";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

}  // namespace

struct TestHttpServer::Impl {
  Handler handler;
  mutable std::mutex mu;  // handler, log, connection threads
  mutable std::condition_variable cv;  // request log growth and stop
  std::vector<TestRequest> log;
  std::vector<std::thread> connection_threads;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> accepted{0};
  int listen_fd = -1;
  int wake_read = -1;
  int wake_write = -1;
  std::uint16_t port = 0;
  std::thread accept_thread;

  void accept_loop();
  void serve(int fd, std::uint64_t id);
  // Reads more bytes into `buf`; false on EOF, error or stop.
  bool read_more(int fd, std::string& buf);
  bool write_all(int fd, std::string_view data);
  // Sleeps up to `d`, returning early (false) when the server stops.
  bool sleep_for(std::chrono::milliseconds d);
  Handler current_handler() {
    std::lock_guard lock(mu);
    return handler;
  }
};

bool TestHttpServer::Impl::read_more(int fd, std::string& buf) {
  for (int spins = 0; spins < 1000000; ++spins) {
    if (stopping) return false;
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_read, POLLIN, 0}};
    int r = ::poll(fds, 2, 1000);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[1].revents != 0 || stopping) return false;
    if (r == 0) continue;
    char chunk[16384];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    if (n == 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  return false;
}

bool TestHttpServer::Impl::write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    if (stopping) return false;
    pollfd fds[2] = {{fd, POLLOUT, 0}, {wake_read, POLLIN, 0}};
    int r = ::poll(fds, 2, 1000);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[1].revents != 0) return false;
    if (r == 0) continue;
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool TestHttpServer::Impl::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu);
  return !cv.wait_for(lock, d, [this] { return stopping.load(); });
}

void TestHttpServer::Impl::accept_loop() {
  while (!stopping) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_read, POLLIN, 0}};
    int r = ::poll(fds, 2, 1000);
    if (r < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0 || stopping) return;
    if (r == 0 || (fds[0].revents & POLLIN) == 0) continue;
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::uint64_t id = ++accepted;
    std::lock_guard lock(mu);
    if (stopping) {
      ::close(fd);
      return;
    }
    connection_threads.emplace_back([this, fd, id] { serve(fd, id); });
  }
}

void TestHttpServer::Impl::serve(int fd, std::uint64_t id) {
  std::string buf;
  for (int served = 0; served < 100000 && !stopping; ++served) {
    // Header block.
    std::size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes || !read_more(fd, buf)) {
        ::close(fd);
        return;
      }
    }
    std::string_view head(buf.data(), header_end);
    TestRequest req;
    req.connection_id = id;
    std::size_t line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    {
      std::size_t sp1 = request_line.find(' ');
      std::size_t sp2 = request_line.rfind(' ');
      if (sp1 == std::string_view::npos || sp2 == sp1) {
        write_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        ::close(fd);
        return;
      }
      req.method = std::string(request_line.substr(0, sp1));
      req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    }
    bool http10 = request_line.ends_with("HTTP/1.0");
    std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      std::size_t e = head.find("\r\n", pos);
      if (e == std::string_view::npos) e = head.size();
      std::string_view line = head.substr(pos, e - pos);
      std::size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        req.headers[lower(std::string(line.substr(0, colon)))] = trim(line.substr(colon + 1));
      }
      pos = e + 2;
    }
    buf.erase(0, header_end + 4);

    if (auto it = req.headers.find("expect"); it != req.headers.end() && lower(it->second) == "100-continue") {
      if (!write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) {
        ::close(fd);
        return;
      }
    }

    // Body.
    auto te = req.headers.find("transfer-encoding");
    if (te != req.headers.end() && lower(te->second).find("chunked") != std::string::npos) {
      bool ok = true;
      for (;;) {
        std::size_t le;
        while ((le = buf.find("\r\n")) == std::string::npos) {
          if (buf.size() > kMaxHeaderBytes || !read_more(fd, buf)) { ok = false; break; }
        }
        if (!ok) break;
        std::size_t size = 0;
        std::size_t i = 0;
        for (; i < le && hex_value(buf[i]) >= 0 && size < kMaxBodyBytes; ++i) size = size * 16 + hex_value(buf[i]);
        if (i == 0 || size >= kMaxBodyBytes) { ok = false; break; }
        buf.erase(0, le + 2);
        if (size == 0) {
          // Trailers until an empty line.
          for (int t = 0; t < 100; ++t) {
            while ((le = buf.find("\r\n")) == std::string::npos) {
              if (buf.size() > kMaxHeaderBytes || !read_more(fd, buf)) { ok = false; break; }
            }
            if (!ok) break;
            buf.erase(0, le + 2);
            if (le == 0) break;
          }
          break;
        }
        while (buf.size() < size + 2) {
          if (!read_more(fd, buf)) { ok = false; break; }
        }
        if (!ok) break;
        req.body.append(buf, 0, size);
        buf.erase(0, size + 2);
      }
      if (!ok) {
        ::close(fd);
        return;
      }
    } else if (auto cl = req.headers.find("content-length"); cl != req.headers.end()) {
      std::size_t length = 0;
      try {
        length = std::stoull(cl->second);
      } catch (...) {
        length = kMaxBodyBytes + 1;
      }
      if (length > kMaxBodyBytes) {
        write_all(fd, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        ::close(fd);
        return;
      }
      while (buf.size() < length) {
        if (!read_more(fd, buf)) {
          ::close(fd);
          return;
        }
      }
      req.body = buf.substr(0, length);
      buf.erase(0, length);
    }

    // Target and form decoding.
    std::size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = parse_urlencoded(std::string_view(req.target).substr(q + 1));
    if (auto ct = req.headers.find("content-type");
        ct != req.headers.end() && lower(ct->second).starts_with("application/x-www-form-urlencoded")) {
      req.form = parse_urlencoded(req.body);
    }
    bool close_after = http10;
    if (auto c = req.headers.find("connection"); c != req.headers.end()) {
      std::string v = lower(c->second);
      if (v.find("close") != std::string::npos) close_after = true;
      if (v.find("keep-alive") != std::string::npos) close_after = false;
    }
    bool head_request = req.method == "HEAD";

    {
      std::lock_guard lock(mu);
      log.push_back(req);
    }
    cv.notify_all();

    TestResponse resp;
    Handler h = current_handler();
    try {
      if (h) resp = h(req);
      else resp.status = 404;
    } catch (const std::exception& e) {
      resp = TestResponse{};
      resp.status = 500;
      resp.body = std::string("handler threw: ") + e.what();
    }
    if (resp.delay.count() > 0 && !sleep_for(resp.delay)) {
      ::close(fd);
      return;
    }
    if (resp.close_without_response) {
      ::shutdown(fd, SHUT_RDWR);
      ::close(fd);
      return;
    }

    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason_phrase(resp.status) + "\r\n";
    bool has_length = false;
    for (const auto& [name, value] : resp.headers) {
      std::string ln = lower(name);
      if (ln == "content-length" || ln == "transfer-encoding") has_length = true;
      if (ln == "connection" && lower(value).find("close") != std::string::npos) close_after = true;
      out += name + ": " + value + "\r\n";
    }
    bool no_body = head_request || resp.status == 204 || resp.status == 304 || resp.status < 200;
    if (!has_length && !(resp.status == 204 || resp.status == 304 || resp.status < 200)) {
      out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
    }
    if (close_after) out += "Connection: close\r\n";
    out += "\r\n";
    if (!no_body) out += resp.body;
    if (!write_all(fd, out) || close_after) {
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
      return;
    }
  }
  ::close(fd);
}

TestHttpServer::TestHttpServer(Handler handler, std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("TestHttpServer: pipe failed");
  impl_->wake_read = pipefd[0];
  impl_->wake_write = pipefd[1];
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("TestHttpServer: socket failed");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 512) != 0) {
    ::close(fd);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    throw std::runtime_error(std::string("TestHttpServer: bind/listen failed: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->listen_fd = fd;
  impl_->port = ntohs(addr.sin_port);
  impl_->accept_thread = std::thread([impl = impl_.get()] { impl->accept_loop(); });
}

TestHttpServer::~TestHttpServer() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  char byte = 1;
  [[maybe_unused]] ssize_t n = ::write(impl_->wake_write, &byte, 1);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mu);
    threads.swap(impl_->connection_threads);
  }
  for (auto& t : threads) t.join();
  ::close(impl_->listen_fd);
  ::close(impl_->wake_read);
  ::close(impl_->wake_write);
}

std::uint16_t TestHttpServer::port() const { return impl_->port; }

std::string TestHttpServer::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

void TestHttpServer::set_handler(Handler handler) {
  std::lock_guard lock(impl_->mu);
  impl_->handler = std::move(handler);
}

std::vector<TestRequest> TestHttpServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->log;
}

std::size_t TestHttpServer::request_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->log.size();
}

std::size_t TestHttpServer::connections_accepted() const { return impl_->accepted.load(); }

bool TestHttpServer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->log.size() >= n || impl_->stopping; }) &&
         impl_->log.size() >= n;
}

}  // namespace promwatch::test
