"""Pictures of training: decision boundaries, neurons, histograms, test figures; the planes drawn
with torch, their axes, legends and labels with matplotlib."""
