#ifndef ONEOFF_VERSION_H
#define ONEOFF_VERSION_H
#define ONEOFF_VERSION "0.1.0"
#endif
