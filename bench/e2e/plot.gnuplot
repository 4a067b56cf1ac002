# voxa-bench e2e --plot OUT.png: goodput and latency over message size, voxa beside the direct TCP baseline.
# Called as: gnuplot -e "datafile='OUT.png.dat'; outfile='OUT.png'" plot.gnuplot
# Columns of datafile: size_bytes voxa_gbps tcp_gbps voxa_p50_ms voxa_p99_ms tcp_p50_ms tcp_p99_ms
if (!exists("datafile")) datafile = 'voxa-bench.dat'
if (!exists("outfile")) outfile = 'voxa-bench.png'
set terminal pngcairo size 1200,500 font ",10" noenhanced
set output outfile
set multiplot layout 1,2 title "voxa-bench e2e: voxa vs direct TCP baseline (same endpoints, same run)"
set logscale x 2
set format x "%.0b%B"
set xlabel "message size (bytes)"
set grid
set key top left

set title "goodput"
set ylabel "Gbit/s (payload)"
set yrange [0:*]
plot datafile using 1:2 with linespoints lw 2 pt 7 title "voxa", \
     datafile using 1:3 with linespoints lw 2 pt 5 dt 2 title "TCP baseline"

set title "latency"
set ylabel "ms"
set logscale y 10
set yrange [*:*]
plot datafile using 1:4 with linespoints lw 2 pt 7 title "voxa p50", \
     datafile using 1:5 with linespoints lw 2 pt 6 title "voxa p99", \
     datafile using 1:6 with linespoints lw 2 pt 5 dt 2 title "TCP p50", \
     datafile using 1:7 with linespoints lw 2 pt 4 dt 2 title "TCP p99"
unset multiplot
