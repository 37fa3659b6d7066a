#include "lipsyncd/media/keyframes.hpp"

#include <algorithm>

#include "libav_handles.hpp"
#include "stream_decoder.hpp"

namespace lipsyncd::media {

std::vector<double> keyframe_times(const MediaInfo& info) {
  if (!info.video || info.still_image) return {};
  libav::InputFormat format = open_input(info.file);
  const int index = info.video->stream_index;
  if (index < 0 || index >= static_cast<int>(format->nb_streams)) return {};
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    if (static_cast<int>(i) != index) format->streams[i]->discard = AVDISCARD_ALL;
  }
  const AVStream* stream = format->streams[index];
  const int64_t start = stream->start_time == AV_NOPTS_VALUE ? 0 : stream->start_time;
  const double tick = av_q2d(stream->time_base);
  std::vector<double> times;
  auto packet = libav::make_packet();
  // A read error ends the pass like the end of the file (probe() has judged the file already).
  while (av_read_frame(format.get(), packet.get()) >= 0) {
    const bool key = (packet->flags & AV_PKT_FLAG_KEY) != 0;
    const bool shown = (packet->flags & AV_PKT_FLAG_DISCARD) == 0;
    const int64_t pts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
    if (packet->stream_index == index && key && shown && pts != AV_NOPTS_VALUE) {
      times.push_back(static_cast<double>(pts - start) * tick);
    }
    av_packet_unref(packet.get());
  }
  std::sort(times.begin(), times.end());
  return times;
}

}  // namespace lipsyncd::media
