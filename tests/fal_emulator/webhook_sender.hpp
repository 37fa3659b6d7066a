#pragma once
// Delivers fal_webhook callbacks: POSTs {"request_id", "gateway_request_id", "status",
// "payload", "error"} to the submitted URL from its own thread, retrying a few times like fal.
// Only plain http:// to 127.0.0.1 or localhost: the emulator never talks to other hosts.

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace lipsyncd::emulator {

class WebhookSender {
 public:
  WebhookSender();
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void enqueue(std::string url, std::string json_body);

 private:
  struct Delivery {
    std::string url;
    std::string body;
  };
  void run();
  static bool deliver(const Delivery& delivery);

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Delivery> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lipsyncd::emulator
