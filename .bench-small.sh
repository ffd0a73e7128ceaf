#!/bin/bash
# usage: .bench-small.sh IMG [seq|rand] -> prints raw and luks times for 4K writes
img=${1:-../qemu-img}; mode=${2:-seq}; n=${3:-16384}
r=""; [ "$mode" = rand ] && r="--random"
cd $(dirname $0)/build/scratch
for i in 1 2 3; do
 a=$( { /usr/bin/time -f "%U %S" $img bench -c $n -d 16 -s 4096 -t none -w $r --random-data -f raw raw.img | grep -o "completed in [0-9.]*"; } 2>&1 | tr '\n' ' ')
 b=$( { /usr/bin/time -f "%U %S" $img bench -c $n -d 16 -s 4096 -t none -w $r --object secret,id=sec0,data=x --image-opts driver=luks,key-secret=sec0,file.driver=file,file.filename=payload.img,header.driver=file,header.filename=hdr.img | grep -o "completed in [0-9.]*"; } 2>&1 | tr '\n' ' ')
 echo "raw: $a | luks: $b"
done
