#include "libav_error.hpp"

#include <cstdio>
#include <mutex>
#include <utility>

#include "libav_handles.hpp"
#include "lipsyncd/core/error.hpp"

extern "C" {
#include <libavutil/log.h>
}

namespace lipsyncd::media::libav {
namespace {

thread_local std::string last_log_message;

void keep_last_error(void* avcl, int level, const char* format, va_list arguments) {
  if (level > AV_LOG_ERROR) return;
  char line[512];
  int print_prefix = 0;
  av_log_format_line2(avcl, level, format, arguments, line, sizeof line, &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) last_log_message = std::move(text);
}

}  // namespace

void initialize() {
  static std::once_flag once;
  std::call_once(once, [] {
    // The daemon's log is ours: libav must not print to stderr behind our back.
    av_log_set_level(AV_LOG_ERROR);
    av_log_set_callback(keep_last_error);
  });
}

std::string error_text(int av_error) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(av_error, text, sizeof text);
  return text;
}

std::string take_last_log_message() {
  return std::exchange(last_log_message, {});
}

void fail(int av_error, std::string_view reason_code, std::string_view what,
          const std::filesystem::path& file, std::string_view hint) {
  std::string message = std::string(what) + " " + file.filename().string() + ": ";
  const std::string logged = take_last_log_message();
  message += logged.empty() ? error_text(av_error) : logged;
  message += ".";
  throw Error(std::string(reason_code), std::move(message), std::string(hint),
              av_error == AVERROR(ENOMEM) || av_error == AVERROR(ENOSPC) ? Permanence::transient
                                                                         : Permanence::permanent);
}

void check(int av_error, std::string_view reason_code, std::string_view what,
           const std::filesystem::path& file, std::string_view hint) {
  if (av_error < 0) fail(av_error, reason_code, what, file, hint);
}

Frame make_frame() {
  Frame frame(av_frame_alloc());
  if (!frame) throw std::bad_alloc();
  return frame;
}

Packet make_packet() {
  Packet packet(av_packet_alloc());
  if (!packet) throw std::bad_alloc();
  return packet;
}

}  // namespace lipsyncd::media::libav
