"""Pictures of training: decision boundaries, neurons, histograms, test figures, drawn with torch."""
