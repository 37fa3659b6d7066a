#include "webhook_sender.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>
#include <regex>

namespace lipsyncd::emulator {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

WebhookSender::WebhookSender() : thread_([this] { run(); }) {}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void WebhookSender::enqueue(std::string url, std::string json_body) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({std::move(url), std::move(json_body)});
  }
  changed_.notify_all();
}

void WebhookSender::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (stopping_) return;
    const Delivery delivery = pending_.front();
    pending_.pop_front();
    lock.unlock();
    for (int attempt = 1; attempt <= 3; ++attempt) {
      if (deliver(delivery)) break;
      std::cerr << "fal-emulator: webhook " << delivery.url << " failed (attempt " << attempt
                << " of 3)\n";
      lock.lock();
      const bool stop = changed_.wait_for(lock, std::chrono::milliseconds(500 * attempt),
                                          [&] { return stopping_; });
      lock.unlock();
      if (stop) return;
    }
    lock.lock();
  }
}

bool WebhookSender::deliver(const Delivery& delivery) {
  static const std::regex local_url(R"(^http://(127\.0\.0\.1|localhost):(\d+)(/.*)?$)");
  std::smatch match;
  if (!std::regex_match(delivery.url, match, local_url)) {
    std::cerr << "fal-emulator: webhook " << delivery.url
              << " refused: only http://127.0.0.1 or localhost URLs are called\n";
    return true;  // permanent: retrying cannot help
  }
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                                     static_cast<unsigned short>(std::stoi(match[2].str())));
    stream.connect(endpoint);
    http::request<http::string_body> request(http::verb::post,
                                             match[3].matched ? match[3].str() : "/", 11);
    request.set(http::field::host, match[1].str() + ":" + match[2].str());
    request.set(http::field::content_type, "application/json");
    request.set(http::field::user_agent, "fal-emulator-webhook");
    request.body() = delivery.body;
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    return response.result_int() < 300;
  } catch (const std::exception& e) {
    std::cerr << "fal-emulator: webhook " << delivery.url << ": " << e.what() << "\n";
    return false;
  }
}

}  // namespace lipsyncd::emulator
