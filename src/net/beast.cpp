// The one translation unit with Beast's compiled parts (see CMakeLists.txt).
#include <boost/beast/src.hpp>
