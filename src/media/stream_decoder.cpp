#include "stream_decoder.hpp"

#include <algorithm>
#include <cmath>

#include "libav_error.hpp"
#include "lipsyncd/core/error.hpp"

namespace lipsyncd::media {
namespace {

constexpr const char* kDamagedHint =
    "re-export or re-download the file; a file still being copied also looks like this";
// A few broken packets are normal in real files; this many means the stream is garbage.
constexpr int kMaxDecodeErrors = 50;

}  // namespace

libav::InputFormat open_input(const std::filesystem::path& file) {
  libav::initialize();
  AVFormatContext* raw = nullptr;
  libav::check(avformat_open_input(&raw, file.c_str(), nullptr, nullptr), "not_decodable",
               "cannot read", file, kDamagedHint);
  libav::InputFormat format(raw);
  libav::check(avformat_find_stream_info(format.get(), nullptr), "not_decodable",
               "cannot read the streams of", file, kDamagedHint);
  return format;
}

int shown_video_stream(const AVFormatContext* format) {
  int first = -1;
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    const AVStream* stream = format->streams[i];
    if (stream->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
    if ((stream->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0) continue;
    if ((stream->disposition & AV_DISPOSITION_DEFAULT) != 0) return static_cast<int>(i);
    if (first < 0) first = static_cast<int>(i);
  }
  return first;
}

StreamDecoder::StreamDecoder(const std::filesystem::path& file, AVMediaType type, int threads,
                             int stream_index)
    : file_(file), format_(open_input(file)) {
  const AVCodec* decoder = nullptr;
  const int wanted = stream_index >= 0            ? stream_index
                     : type == AVMEDIA_TYPE_VIDEO ? shown_video_stream(format_.get())
                                                  : -1;
  const int index = type == AVMEDIA_TYPE_VIDEO && wanted < 0
                        ? AVERROR_STREAM_NOT_FOUND
                        : av_find_best_stream(format_.get(), type, wanted, -1, &decoder, 0);
  if (index < 0) {
    const bool video = type == AVMEDIA_TYPE_VIDEO;
    throw Error(
        video ? "no_video_stream" : "no_audio_stream",
        file.filename().string() + (video ? " has no video stream." : " has no audio stream."),
        video ? "use a video file that shows the speaker"
              : "use a file that contains the speech to lip-sync to");
  }
  stream_ = format_->streams[index];
  if (decoder == nullptr) {
    throw Error("not_decodable",
                file.filename().string() + " uses the codec " +
                    avcodec_get_name(stream_->codecpar->codec_id) +
                    ", which cannot be decoded here.",
                "convert it to H.264 (video) or WAV (audio) first");
  }
  // Only our stream's packets matter; the demuxer may drop the others early.
  for (unsigned i = 0; i < format_->nb_streams; ++i) {
    if (static_cast<int>(i) != index) format_->streams[i]->discard = AVDISCARD_ALL;
  }
  codec_.reset(avcodec_alloc_context3(decoder));
  if (!codec_) throw std::bad_alloc();
  libav::check(avcodec_parameters_to_context(codec_.get(), stream_->codecpar), "not_decodable",
               "cannot set up the decoder for", file);
  codec_->thread_count = threads;
  codec_->pkt_timebase = stream_->time_base;
  libav::check(avcodec_open2(codec_.get(), decoder, nullptr), "not_decodable",
               "cannot open the decoder for", file, kDamagedHint);
}

bool StreamDecoder::feed_packet() {
  while (true) {
    const int read = av_read_frame(format_.get(), packet_.get());
    if (read == AVERROR_EOF || (read < 0 && frames_decoded_ > 0)) {
      // A truncated tail ends the stream like EOF: what was decoded so far is still valid.
      avcodec_send_packet(codec_.get(), nullptr);
      draining_ = true;
      return true;
    }
    libav::check(read, "not_decodable", "cannot read", file_, kDamagedHint);
    if (packet_->stream_index != stream_->index) {
      av_packet_unref(packet_.get());
      continue;
    }
    const int sent = avcodec_send_packet(codec_.get(), packet_.get());
    av_packet_unref(packet_.get());
    if (sent < 0 && sent != AVERROR(EAGAIN)) {
      if (++decode_errors_ > kMaxDecodeErrors) {
        libav::fail(sent, "not_decodable", "too many damaged frames in", file_, kDamagedHint);
      }
      continue;
    }
    return true;
  }
}

AVFrame* StreamDecoder::next_frame() {
  while (true) {
    av_frame_unref(frame_.get());
    const int received = avcodec_receive_frame(codec_.get(), frame_.get());
    if (received == 0) {
      ++frames_decoded_;
      return frame_.get();
    }
    if (received == AVERROR_EOF) {
      if (frames_decoded_ == 0) {
        throw Error("not_decodable",
                    "not a single frame of " + file_.filename().string() + " could be decoded.",
                    kDamagedHint);
      }
      return nullptr;
    }
    if (received != AVERROR(EAGAIN)) {
      if (++decode_errors_ > kMaxDecodeErrors) {
        libav::fail(received, "not_decodable", "too many damaged frames in", file_, kDamagedHint);
      }
      continue;
    }
    if (draining_) return nullptr;
    feed_packet();
  }
}

void StreamDecoder::seek(double target_seconds) {
  const int64_t target = timestamp(target_seconds);
  if (av_seek_frame(format_.get(), stream_->index, target, AVSEEK_FLAG_BACKWARD) < 0) {
    // Some containers only seek by bytes or from the start; rewinding always works.
    libav::check(avformat_seek_file(format_.get(), stream_->index, INT64_MIN, target, target, 0),
                 "not_decodable", "cannot seek in", file_, kDamagedHint);
  }
  avcodec_flush_buffers(codec_.get());
  draining_ = false;
}

double StreamDecoder::seconds(int64_t ts) const {
  const int64_t start = stream_->start_time == AV_NOPTS_VALUE ? 0 : stream_->start_time;
  return static_cast<double>(ts - start) * av_q2d(stream_->time_base);
}

int64_t StreamDecoder::timestamp(double value) const {
  const int64_t start = stream_->start_time == AV_NOPTS_VALUE ? 0 : stream_->start_time;
  return start + static_cast<int64_t>(std::llround(value / av_q2d(stream_->time_base)));
}

double StreamDecoder::frame_seconds(const AVFrame* frame) const {
  const int64_t ts =
      frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : frame->pts;
  return ts == AV_NOPTS_VALUE ? 0.0 : seconds(ts);
}

std::vector<double> StreamDecoder::keyframe_seconds() const {
  std::vector<double> result;
  const int count = avformat_index_get_entries_count(stream_);
  for (int i = 0; i < count; ++i) {
    const AVIndexEntry* entry = avformat_index_get_entry(stream_, i);
    if (entry != nullptr && (entry->flags & AVINDEX_KEYFRAME) != 0) {
      result.push_back(seconds(entry->timestamp));
    }
  }
  return result;
}

std::vector<double> keyframe_presentation_seconds(const std::filesystem::path& file) {
  libav::InputFormat format = open_input(file);
  const int index = shown_video_stream(format.get());
  if (index < 0) return {};
  const AVStream* stream = format->streams[index];
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    if (static_cast<int>(i) != index) format->streams[i]->discard = AVDISCARD_ALL;
  }
  // A keyframe opens a closed GOP unless a packet decoded after it is shown before it (an open
  // GOP's leading B-frames, which reference the GOP before): cutting there would break them.
  struct Keyframe {
    int64_t pts = 0;
    bool open = false;
  };
  std::vector<Keyframe> keyframes;
  libav::Packet packet = libav::make_packet();
  while (true) {
    const int read = av_read_frame(format.get(), packet.get());
    if (read == AVERROR_EOF) break;
    libav::check(read, "not_decodable", "cannot read", file, kDamagedHint);
    if (packet->stream_index == index && packet->pts != AV_NOPTS_VALUE) {
      if ((packet->flags & AV_PKT_FLAG_KEY) != 0) {
        keyframes.push_back({packet->pts, false});
      } else if (!keyframes.empty() && packet->pts < keyframes.back().pts) {
        keyframes.back().open = true;
      }
    }
    av_packet_unref(packet.get());
  }
  const int64_t start = stream->start_time == AV_NOPTS_VALUE ? 0 : stream->start_time;
  std::vector<double> result;
  for (const Keyframe& keyframe : keyframes) {
    if (keyframe.open) continue;
    result.push_back(static_cast<double>(keyframe.pts - start) * av_q2d(stream->time_base));
  }
  std::sort(result.begin(), result.end());
  return result;
}

libav::Swr packed_float_converter(AVCodecContext* codec, const std::filesystem::path& file) {
  SwrContext* raw = nullptr;
  libav::check(
      swr_alloc_set_opts2(&raw, &codec->ch_layout, AV_SAMPLE_FMT_FLT, codec->sample_rate,
                          &codec->ch_layout, codec->sample_fmt, codec->sample_rate, 0, nullptr),
      "not_decodable", "cannot convert the audio of", file);
  libav::Swr resampler(raw);
  libav::check(swr_init(resampler.get()), "not_decodable", "cannot convert the audio of", file);
  return resampler;
}

}  // namespace lipsyncd::media
