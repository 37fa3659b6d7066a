#include "lipsyncd/media/media_info.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <vector>

#include "libav_error.hpp"
#include "libav_handles.hpp"
#include "lipsyncd/core/error.hpp"
#include "stream_decoder.hpp"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace lipsyncd::media {
namespace {

// Enough packets to see a camera's frame-rate changes without reading a long file whole.
constexpr int kFrameRateScanPackets = 300;

// libavformat happily "detects" plain text as some headerless format, so text is caught first:
// a file whose first KiB is printable characters is a document or a script, not media.
bool looks_like_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char buffer[1024];
  in.read(buffer, sizeof buffer);
  const auto count = in.gcount();
  if (count == 0) return false;
  for (std::streamsize i = 0; i < count; ++i) {
    const auto c = static_cast<unsigned char>(buffer[i]);
    const bool printable = c >= 0x20 || c == '\n' || c == '\r' || c == '\t';
    if (!printable || c == 0x7f) return false;
  }
  return true;
}

bool is_still_image_container(const std::string& name) {
  return name == "image2" || (name.size() > 5 && name.ends_with("_pipe"));
}

int rotation_of(const AVStream* stream) {
  const uint8_t* matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (matrix == nullptr) return 0;
  // av_display_rotation_get is counter-clockwise; players turn the picture by its negation.
  const double counter_clockwise =
      av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
  if (std::isnan(counter_clockwise)) return 0;
  const long clockwise = std::lround(-counter_clockwise / 90.0) * 90;
  return static_cast<int>(((clockwise % 360) + 360) % 360);
}

double stream_seconds(const AVStream* stream) {
  if (stream->duration == AV_NOPTS_VALUE || stream->duration <= 0) return 0;
  return static_cast<double>(stream->duration) * av_q2d(stream->time_base);
}

// Where one stream's packets begin and end, in seconds on the stream's own clock.
struct StreamSpan {
  double first_s = std::numeric_limits<double>::infinity();
  double end_s = -std::numeric_limits<double>::infinity();
  double skipped_s = 0;  // encoder delay and padding the decoder drops (MP3, AAC priming)
  bool seen() const { return end_s > first_s; }
  double duration_s() const { return seen() ? std::max(0.0, end_s - first_s - skipped_s) : 0; }
};

// Samples a decoder drops from a packet (AV_PKT_DATA_SKIP_SAMPLES: 32-bit little-endian
// counts at the start and at the end), in seconds.
double skipped_seconds(const AVPacket* packet, const AVStream* stream) {
  size_t size = 0;
  const uint8_t* data = av_packet_get_side_data(packet, AV_PKT_DATA_SKIP_SAMPLES, &size);
  const int rate = stream->codecpar->sample_rate;
  if (data == nullptr || size < 8 || rate <= 0) return 0;
  const auto read_le32 = [](const uint8_t* bytes) {
    return static_cast<uint32_t>(bytes[0]) | static_cast<uint32_t>(bytes[1]) << 8 |
           static_cast<uint32_t>(bytes[2]) << 16 | static_cast<uint32_t>(bytes[3]) << 24;
  };
  return static_cast<double>(read_le32(data) + read_le32(data + 4)) / rate;
}

struct PacketScan {
  bool variable_frame_rate = false;
  std::vector<StreamSpan> streams;  // by stream index

  // The whole file, from the earliest start to the latest end over every stream.
  double end_s() const {
    double first = std::numeric_limits<double>::infinity();
    double end = 0;
    for (const StreamSpan& span : streams) {
      if (!span.seen()) continue;
      first = std::min(first, span.first_s);
      end = std::max(end, span.end_s);
    }
    return std::isfinite(first) ? end - first : 0;
  }
};

bool judge_frame_rate(std::vector<int64_t>& video_pts);

// One pass over every packet, no decoding: each stream's first and last presentation time
// (which is what a full decode measures, at a fraction of its cost) and, from the first few
// hundred video packets, whether the frame rate varies.
PacketScan scan_packets(AVFormatContext* format, int video_index) {
  PacketScan scan;
  scan.streams.resize(format->nb_streams);
  std::vector<int64_t> video_pts;
  auto packet = libav::make_packet();
  // A read error ends the pass like the end of the file: what is missing shows as a shortfall.
  while (av_read_frame(format, packet.get()) >= 0) {
    const AVStream* stream = format->streams[packet->stream_index];
    const int64_t pts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
    // Packets an edit list discards (AAC priming in MP4) are never shown or heard.
    const bool shown = (packet->flags & AV_PKT_FLAG_DISCARD) == 0;
    if (shown && pts != AV_NOPTS_VALUE &&
        packet->stream_index < static_cast<int>(scan.streams.size())) {
      const double tick = av_q2d(stream->time_base);
      StreamSpan& span = scan.streams[packet->stream_index];
      span.first_s = std::min(span.first_s, static_cast<double>(pts) * tick);
      span.end_s = std::max(span.end_s, static_cast<double>(pts + packet->duration) * tick);
      span.skipped_s += skipped_seconds(packet.get(), stream);
      if (packet->stream_index == video_index && video_pts.size() < kFrameRateScanPackets) {
        video_pts.push_back(pts);
      }
    }
    av_packet_unref(packet.get());
  }
  scan.variable_frame_rate = judge_frame_rate(video_pts);
  return scan;
}

bool judge_frame_rate(std::vector<int64_t>& video_pts) {
  if (video_pts.size() < 3) return false;
  std::sort(video_pts.begin(), video_pts.end());
  std::vector<int64_t> steps;
  for (size_t i = 1; i < video_pts.size(); ++i) steps.push_back(video_pts[i] - video_pts[i - 1]);
  std::sort(steps.begin(), steps.end());
  const double typical = static_cast<double>(steps[steps.size() / 2]);
  // Timestamp rounding makes steps differ by a tick or so; a real rate change is far more.
  const double tolerance = std::max(2.0, typical * 0.25);
  const auto irregular = std::count_if(steps.begin(), steps.end(), [&](int64_t step) {
    return std::fabs(static_cast<double>(step) - typical) > tolerance;
  });
  // One gap (a dropped frame at a cut) does not make a variable-rate camera clip.
  return irregular > std::max<std::ptrdiff_t>(2, static_cast<std::ptrdiff_t>(steps.size()) / 20);
}

// A header that promises this much more than the packets hold is a cut-off file (a failed
// copy, a download still running). Containers round their durations and a last packet may
// carry no duration, so a little slack is normal; a lost second is not.
constexpr double kTruncationSlackS = 1.0;
constexpr double kTruncationSlackRatio = 0.05;

void refuse_if_truncated(const MediaInfo& info, double header_s, const PacketScan& scan) {
  const double found_s = scan.end_s();
  const double missing_s = header_s - found_s;
  if (missing_s <= std::max(kTruncationSlackS, kTruncationSlackRatio * header_s)) return;
  char text[160];
  std::snprintf(text, sizeof text,
                " is cut off: its header says %.2f s, but its data ends after %.2f s.", header_s,
                found_s);
  throw Error("truncated", info.file.filename().string() + text,
              "copy or download the file again; it is incomplete (a copy or upload may have "
              "failed, or it is still being written)");
}

}  // namespace

std::string container_display_name(const std::string& name) {
  if (name.starts_with("mov,mp4")) return "MP4/MOV";
  if (name == "matroska,webm") return "Matroska/WebM";
  if (name == "avi") return "AVI";
  if (name == "wav") return "WAV";
  if (name == "mp3") return "MP3";
  if (name == "aac") return "AAC (ADTS)";
  if (name == "flac") return "FLAC";
  if (name == "ogg") return "Ogg";
  return name;
}

MediaInfo probe(const std::filesystem::path& file) {
  libav::initialize();
  std::error_code error;
  MediaInfo info;
  info.file = file;
  info.bytes = std::filesystem::file_size(file, error);
  if (error) {
    throw Error("file_not_found", "cannot read " + file.string() + ": " + error.message() + ".",
                "check the path and the file's permissions");
  }
  if (info.bytes == 0) {
    throw Error("empty_file", file.filename().string() + " is empty (0 bytes).",
                "copy the file again; an upload or copy may have failed");
  }
  if (looks_like_text(file)) {
    throw Error("not_media", file.filename().string() + " contains text, not audio or video.",
                "use a video (MP4, MOV, AVI, WebM) or an audio file (WAV, MP3, AAC, FLAC)");
  }

  libav::InputFormat format = open_input(file);
  info.container = format->iformat->name;
  info.still_image = is_still_image_container(info.container);

  const int video_index = shown_video_stream(format.get());
  const AVStream* video_stream = nullptr;
  if (video_index >= 0) {
    video_stream = format->streams[video_index];
    const AVCodecParameters* par = video_stream->codecpar;
    VideoStreamInfo video;
    video.stream_index = video_index;
    for (unsigned i = 0; i < format->nb_streams; ++i) {
      const AVStream* other = format->streams[i];
      if (static_cast<int>(i) != video_index && other->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
          (other->disposition & AV_DISPOSITION_ATTACHED_PIC) == 0) {
        ++video.other_video_streams;
      }
    }
    video.codec = avcodec_get_name(par->codec_id);
    const char* pixel_format = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
    video.pixel_format = pixel_format != nullptr ? pixel_format : "unknown";
    video.width = par->width;
    video.height = par->height;
    const AVRational sar =
        av_guess_sample_aspect_ratio(format.get(), format->streams[video_index], nullptr);
    if (sar.num > 0 && sar.den > 0) {
      video.sar_num = sar.num;
      video.sar_den = sar.den;
    }
    AVRational rate = video_stream->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0) rate = video_stream->r_frame_rate;
    video.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
    video.rotation = rotation_of(video_stream);
    video.duration_s = stream_seconds(video_stream);
    info.video = video;
  }
  const int audio_index = av_find_best_stream(format.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (audio_index >= 0) {
    const AVStream* stream = format->streams[audio_index];
    const AVCodecParameters* par = stream->codecpar;
    AudioStreamInfo audio;
    audio.codec = avcodec_get_name(par->codec_id);
    const char* sample_format = av_get_sample_fmt_name(static_cast<AVSampleFormat>(par->format));
    audio.sample_format = sample_format != nullptr ? sample_format : "unknown";
    audio.sample_rate = par->sample_rate;
    audio.channels = par->ch_layout.nb_channels;
    audio.duration_s = stream_seconds(stream);
    info.audio = audio;
  }
  if (!info.video && !info.audio) {
    throw Error("not_media", file.filename().string() + " holds neither audio nor video.",
                "use a video (MP4, MOV, AVI, WebM) or an audio file (WAV, MP3, AAC, FLAC)");
  }

  // A duration guessed from the bit rate (raw AAC, some MP3s) is only an estimate.
  const bool duration_known = format->duration != AV_NOPTS_VALUE && format->duration > 0 &&
                              format->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE;
  if (duration_known) info.duration_s = static_cast<double>(format->duration) / AV_TIME_BASE;
  if (!info.still_image) {
    const PacketScan scan = scan_packets(format.get(), video_index);
    if (duration_known) refuse_if_truncated(info, info.duration_s, scan);
    if (!duration_known) info.duration_s = scan.end_s();
    // The packets say how long each stream really plays; headers round, pad or omit it
    // (Matroska states no per-stream duration at all).
    if (info.video && scan.streams[video_index].seen()) {
      info.video->duration_s = scan.streams[video_index].duration_s();
    }
    if (info.audio && scan.streams[audio_index].seen()) {
      info.audio->duration_s = scan.streams[audio_index].duration_s();
    }
    if (info.video) {
      const AVRational r = video_stream->r_frame_rate;
      const double nominal = r.num > 0 && r.den > 0 ? av_q2d(r) : info.video->fps;
      // An average rate far from the nominal one also betrays dropped or merged frames.
      info.video->variable_frame_rate =
          scan.variable_frame_rate ||
          (nominal > 0 && std::fabs(info.video->fps - nominal) / nominal > 0.01);
    }
  }
  if (info.video && info.video->duration_s == 0) info.video->duration_s = info.duration_s;
  if (info.audio && info.audio->duration_s == 0) info.audio->duration_s = info.duration_s;
  return info;
}

double video_seconds(const MediaInfo& info) {
  return info.video && info.video->duration_s > 0 ? info.video->duration_s : info.duration_s;
}

double audio_seconds(const MediaInfo& info) {
  return info.audio && info.audio->duration_s > 0 ? info.audio->duration_s : info.duration_s;
}

Loudness measure_loudness(const MediaInfo& info) {
  StreamDecoder decoder(info.file, AVMEDIA_TYPE_AUDIO, 1);
  AVCodecContext* codec = decoder.codec();
  const libav::Swr resampler = packed_float_converter(codec, info.file);

  std::vector<float> samples;
  double sum_of_squares = 0;
  double peak = 0;
  uint64_t count = 0;
  while (const AVFrame* frame = decoder.next_frame()) {
    const int channels = frame->ch_layout.nb_channels > 0 ? frame->ch_layout.nb_channels
                                                          : codec->ch_layout.nb_channels;
    samples.resize(static_cast<size_t>(frame->nb_samples + 32) * static_cast<size_t>(channels));
    uint8_t* out = reinterpret_cast<uint8_t*>(samples.data());
    const int converted =
        swr_convert(resampler.get(), &out, frame->nb_samples + 32,
                    const_cast<const uint8_t**>(frame->extended_data), frame->nb_samples);
    if (converted < 0) continue;
    const size_t values = static_cast<size_t>(converted) * static_cast<size_t>(channels);
    for (size_t i = 0; i < values; ++i) {
      const double v = samples[i];
      sum_of_squares += v * v;
      peak = std::max(peak, std::fabs(v));
    }
    count += values;
  }
  const auto to_dbfs = [](double level) {
    return level > 0 ? 20.0 * std::log10(level) : -std::numeric_limits<double>::infinity();
  };
  Loudness loudness;
  loudness.peak_dbfs = to_dbfs(peak);
  loudness.rms_dbfs =
      to_dbfs(count > 0 ? std::sqrt(sum_of_squares / static_cast<double>(count)) : 0);
  return loudness;
}

}  // namespace lipsyncd::media
